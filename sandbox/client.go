package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotRunning means a sandbox's control socket has no pid 1 behind it.
var ErrNotRunning = errors.New("not running")

// Dial connects to one of a sandbox's sockets (SOCK_SEQPACKET): pid 1's
// control socket, or a keeper's attach socket.
func Dial(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return -1, ErrNotRunning
		}
		return -1, fmt.Errorf("socket %s: %w", path, err)
	}
	return fd, nil
}

// Listen binds a SOCK_SEQPACKET unix socket at path for Dial, replacing a
// socket a killed burrow left (the caller holds the sandbox's lock, so no
// live one can be there).
func Listen(path string) (*os.File, error) {
	if len(path) >= 108 {
		return nil, fmt.Errorf("socket path %s is too long for a unix socket; set XDG_RUNTIME_DIR to a shorter directory", path)
	}
	_ = os.Remove(path)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Kill sends sig to a running sandbox's command through its control
// socket; all sends SIGKILL to every process in the sandbox instead.
func Kill(control string, sig unix.Signal, all bool) error {
	fd, err := Dial(control)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := send(fd, message{Type: msgKill, Signal: int(sig), All: all}); err != nil {
		return err
	}
	m, _, err := recv(fd)
	switch {
	case err == io.EOF:
		return nil // the sandbox ended at once
	case err != nil:
		return err
	case m.Type == msgError && m.Error != nil:
		return m.Error
	}
	return nil
}

// Exec runs req in a running sandbox with the caller's stdio (or, with
// req.TTY, a new pty of the sandbox relayed to them) and returns its exit
// status. Signals burrow receives are passed on to the process.
func Exec(control string, req ExecRequest, stdin, stdout, stderr *os.File) (int, error) {
	fd, err := Dial(control)
	if err != nil {
		return CodeSetup, err
	}
	defer unix.Close(fd)
	var fds []int
	if !req.TTY {
		fds = []int{int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd())}
	}
	if err := send(fd, message{Type: msgExec, Exec: &req}, fds...); err != nil {
		return CodeSetup, fmt.Errorf("control socket: %w", err)
	}
	var relay atomic.Pointer[ttyRelay]
	stop := forwardSignals(&relay, func(sig syscall.Signal) { _ = send(fd, message{Type: msgSignal, Signal: int(sig)}) })
	defer stop()
	for {
		m, got, err := recv(fd)
		if err == io.EOF {
			if t := relay.Load(); t != nil {
				t.restore()
			}
			return 128 + int(unix.SIGKILL), errors.New("the sandbox ended while the process ran")
		}
		if err != nil {
			return CodeSetup, fmt.Errorf("control socket: %w", err)
		}
		switch m.Type {
		case msgPty:
			if len(got) == 1 {
				relay.Store(startRelay(os.NewFile(uintptr(got[0]), "ptmx"), stdin, stdout))
			}
		case msgError:
			if m.Error == nil {
				return CodeSetup, errors.New("exec failed")
			}
			return m.Error.Code, m.Error
		case msgExit:
			if t := relay.Load(); t != nil {
				t.finish()
			}
			return m.Code, nil
		}
	}
}
