package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// Message types, in the order they travel:
//
//	parent → child   mapped   uid_map and gid_map are written
//	parent → init    spec     Spec
//	parent → init    netready published ports listen on the host
//	init   → parent  ready    init set its parent-death signal
//	init   → parent  pty      the pty master rides along (SCM_RIGHTS)
//	init   → parent  started  the command runs
//	init   → parent  error    setup failed; Error says how
//	init   → parent  notice   a line for the user (Text), e.g. a fallback
//	init   → parent  probe    the native overlay probe's result (Text)
//	init   → parent  progress an import's progress: "BYTES/TOTAL" (Text)
//	init   → parent  oom      the kernel killed Code processes for memory
//	                          in the sandbox's cgroup (read before it goes)
//	parent → init    control  the listening control socket (SCM_RIGHTS)
//
// On a connection to the control socket (burrow exec, stop, kill):
//
//	client → init    exec     Exec, with stdin, stdout, stderr (SCM_RIGHTS)
//	init   → client  pty      the exec's pty master, with -t
//	init   → client  started  the process runs (Pid, inside)
//	client → init    signal   pass Signal to the exec'd process
//	init   → client  exit     it ended with Code
//	client → init    kill     Signal to the command; with All, SIGKILL
//	                          to every process of the sandbox
//	init   → client  ok       done
const (
	msgControl  = "control"
	msgOOM      = "oom"
	msgExec     = "exec"
	msgSignal   = "signal"
	msgExit     = "exit"
	msgKill     = "kill"
	msgOK       = "ok"
	msgNotice   = "notice"
	msgNetReady = "netready"
	msgProgress = "progress"
	msgProbe    = "probe"
	msgMapped   = "mapped"
	msgSpec     = "spec"
	msgReady    = "ready"
	msgPty      = "pty"
	msgStarted  = "started"
	msgError    = "error"
)

type message struct {
	Type  string       `json:"type"`
	Spec  *Spec        `json:"spec,omitempty"`
	Error *InitError   `json:"error,omitempty"`
	Text  string       `json:"text,omitempty"`
	Exec  *ExecRequest `json:"exec,omitempty"`
	// Pid, Code and Signal are a process inside, an exit status and a
	// signal number; All widens a kill to the whole sandbox.
	Pid    int  `json:"pid,omitempty"`
	Code   int  `json:"code,omitempty"`
	Signal int  `json:"signal,omitempty"`
	All    bool `json:"all,omitempty"`
}

// InitError is a failure inside the sandbox, carried to the parent as data
// (runc's initError): Code is the exit status burrow ends with.
type InitError struct {
	Msg  string `json:"msg"`
	Code int    `json:"code"`
}

func (e *InitError) Error() string { return e.Msg }

// Setup failures exit with 125, podman's and docker's status for "the
// tool failed, not the command"; exec failures as a shell would.
const (
	CodeSetup       = 125
	CodeNotExec     = 126
	CodeNotFound    = 127
	maxMessageBytes = 1 << 20
)

func send(fd int, m message, fds ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(fd, b, oob, nil, 0)
}

// recv reads one packet. io.EOF means the peer closed its end.
//
// It peeks at the packet's length first (MSG_TRUNC reports it for
// SOCK_SEQPACKET since Linux 3.4), so that a waiting reader holds no
// large buffer: init waits in recv for the sandbox's whole life.
func recv(fd int) (message, []int, error) {
	var m message
	size, err := retry(func() (int, error) {
		n, _, err := unix.Recvfrom(fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		return n, err
	})
	if err != nil {
		return m, nil, err
	}
	if size > maxMessageBytes {
		return m, nil, fmt.Errorf("message of %d bytes is too large", size)
	}
	buf := make([]byte, max(size, 1))
	oob := make([]byte, unix.CmsgSpace(4*4))
	var oobn, flags int
	n, err := retry(func() (n int, err error) {
		n, oobn, flags, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		return n, err
	})
	if err != nil {
		return m, nil, err
	}
	if n == 0 {
		return m, nil, io.EOF
	}
	var fds []int
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return m, nil, err
		}
		for _, c := range cmsgs {
			got, err := unix.ParseUnixRights(&c)
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		return m, fds, fmt.Errorf("message truncated")
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return m, fds, fmt.Errorf("decode message: %w", err)
	}
	return m, fds, nil
}

func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// expect reads one message and checks its type.
func expect(fd int, typ string) (message, error) {
	m, _, err := recv(fd)
	if err != nil {
		return m, err
	}
	if m.Type != typ {
		return m, fmt.Errorf("protocol: got %q, want %q", m.Type, typ)
	}
	return m, nil
}
