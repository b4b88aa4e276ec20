package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/slirp"
	"github.com/burrow-sandbox/burrow/userns"
	"golang.org/x/sys/unix"
)

// Options are the host-side parts of a run that init never sees.
type Options struct {
	Plan userns.Plan
	// Log receives the parent's records and, under Spec.Debug, init's.
	Log                   *slog.Logger
	Stdin, Stdout, Stderr *os.File
	// Preserve are the caller's fds passed on as 3, 4, ...
	Preserve []*os.File
	// ProcSys is /proc/sys, for explaining a refused user namespace.
	ProcSys string
	// Notice prints a line for the user; Probed caches the result of
	// the native overlay probe. Either may be nil.
	Notice, Probed func(string)
	// Progress receives an import's "BYTES/TOTAL".
	Progress func(string)
	// Network starts user-mode networking for the sandbox (nil: none).
	Network *slirp.Options
	// Cgroup puts the sandbox in a systemd scope with limits (nil: no
	// cgroup of its own).
	Cgroup *CgroupPlan
	// Control is a listening unix socket (SOCK_SEQPACKET) that pid 1
	// serves exec, stop and kill on (nil: none).
	Control *os.File
	// Started is called once the command runs, with pid 1's host pid
	// and the sandbox's cgroup (a unit or a directory, "" if none).
	Started func(pid int, cgroup string)
	// Pty takes the pty master of a -t sandbox instead of the relay to
	// Stdin and Stdout (a detached sandbox's keeper); the function it
	// returns is called at the end and must drain and close the master.
	Pty func(master *os.File) (finish func())
}

// Cloneflags are the namespaces of a sandbox. With CLONE_NEWUSER in the
// same call the kernel creates the user namespace first and makes it the
// owner of the others.
const Cloneflags = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
	unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP

func cloneflags(spec *Spec) uintptr {
	if spec.HostNet {
		return Cloneflags &^ unix.CLONE_NEWNET
	}
	return Cloneflags
}

// CgroupPlan is a sandbox's scope: the manager decision, the limits, the
// unit name and its description.
type CgroupPlan struct {
	Decision    cgroup.Decision
	Limits      cgroup.Limits
	Unit, About string
}

// Run runs spec and returns the exit status burrow should end with. A
// non-nil error explains a status that is not the command's own.
func Run(spec *Spec, o Options) (int, error) {
	chore := len(spec.Remove) > 0 || spec.Import != nil // no command to run
	if len(spec.Args) == 0 && !chore {
		return CodeSetup, errors.New("no command")
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return CodeSetup, fmt.Errorf("socketpair: %w", err)
	}
	sock := pair[0]
	defer unix.Close(sock)
	childSock := os.NewFile(uintptr(pair[1]), "sock")

	cmd := &exec.Cmd{
		Path:   self(),
		Args:   []string{os.Args[0]},
		Env:    []string{stageEnv + "=child"},
		Stdin:  o.Stdin,
		Stdout: o.Stdout,
		Stderr: o.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneflags(spec),
			// A SIGKILL of burrow takes pid 1, and with it the
			// whole pid namespace, down (init sets it again).
			Pdeathsig: unix.SIGKILL,
			// No controlling terminal: TIOCSTI needs one
			// (CVE-2017-5226, bubblewrap's --new-session).
			Setsid: true,
		},
	}
	if o.Plan.Mode == userns.Single {
		// A one-line map of our own IDs needs no helper, so Go's
		// forkExec can write it between clone and execve: the exec
		// then already happens as uid 0 inside and init starts
		// directly, without the child stage (one Go start-up less).
		u, g := o.Plan.UIDs[0], o.Plan.GIDs[0]
		cmd.Env = []string{stageEnv + "=init"}
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: int(u.Inside), HostID: int(u.Outside), Size: int(u.Count)}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: int(g.Inside), HostID: int(g.Outside), Size: int(g.Count)}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	if spec.TTY {
		// The command gets the sandbox's own pty; init needs no
		// terminal, and the host's must not come in.
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return CodeSetup, err
		}
		defer devnull.Close()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	}
	var logR, logW *os.File
	if spec.Debug {
		if logR, logW, err = os.Pipe(); err != nil {
			return CodeSetup, err
		}
		defer logR.Close()
	}
	cmd.ExtraFiles = append([]*os.File{childSock, logW}, o.Preserve...)

	s := &session{spec: spec, opts: o, sock: sock}
	startc := make(chan error, 1)
	waitc := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking *thread* ends
		// (golang/go#27505): keep this one until the child is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			startc <- err
			return
		}
		startc <- nil
		waitc <- cmd.Wait()
	}()
	err = <-startc
	childSock.Close()
	if logW != nil {
		logW.Close()
	}
	if err != nil {
		return CodeSetup, fmt.Errorf("create namespaces: %w", userns.Explain(err, o.ProcSys))
	}
	s.pid = cmd.Process.Pid
	o.Log.Debug("child started", "stage", "parent", "pid", s.pid, "map", o.Plan.Mode)
	if logR != nil {
		go relayLog(logR, o.Log)
	}
	stopSignals := s.handleSignals()
	defer stopSignals()

	setupErr := s.converse()
	if setupErr != nil {
		_ = unix.Kill(s.pid, unix.SIGKILL)
	}
	werr := <-waitc
	s.finishRelay()
	// The network driver ends with the sandbox (slirp4netns also by its
	// parent-death signal, pasta when the namespace goes).
	_ = s.net.Close()
	if setupErr != nil {
		return exitOf(setupErr), setupErr
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return CodeSetup, werr
	}
	code := ExitCode(cmd.ProcessState.Sys().(syscall.WaitStatus))
	oom := s.scope != nil && (s.oomKills.Load() > 0 || s.scope.OOMKills() > 0)
	s.scope.Remove()
	if oom && code != 0 {
		return 128 + int(unix.SIGKILL), errors.New(s.scope.OOMMessage())
	}
	if !s.started.Load() && !chore {
		return CodeSetup, fmt.Errorf("sandbox setup failed: init exited with status %d", code)
	}
	return code, nil
}

func exitOf(err error) int {
	var ie *InitError
	if errors.As(err, &ie) {
		return ie.Code
	}
	return CodeSetup
}

// session is the parent's side of one run.
type session struct {
	spec    *Spec
	opts    Options
	sock    int
	pid     int
	started atomic.Bool
	// oomKills is what pid 1 read from the sandbox's cgroup at the end.
	oomKills atomic.Int64
	tty      atomic.Pointer[ttyRelay]
	ptyDone  func()
	net      *slirp.Parent
	scope    *cgroup.Scope
}

// converse maps the child's IDs and drives the protocol until init closes
// the socket (it exits) or reports a failure.
func (s *session) converse() error {
	// The scope holds pid 1 before anything of the user runs in it.
	if c := s.opts.Cgroup; c != nil {
		var scope *cgroup.Scope
		var err error
		switch c.Decision.Manager {
		case cgroup.Systemd:
			scope, err = cgroup.StartScope(context.Background(), c.Decision, c.Unit, c.About, s.pid, c.Limits)
		case cgroup.Cgroupfs:
			scope, err = cgroup.StartLeaf(c.Decision.Dir, strings.TrimSuffix(c.Unit, ".scope"), s.pid, c.Limits)
		}
		if err != nil {
			return err
		}
		s.scope = scope
	}
	// pasta enters the namespaces itself and needs no ID map: start it
	// now, so that its start-up (tens of ms) overlaps the child's.
	// slirp4netns runs ip(8) in the namespace, which needs the map.
	if o := s.opts.Network; o != nil && o.Mode == slirp.Pasta {
		if err := s.startNet(); err != nil {
			return err
		}
	}
	if s.opts.Plan.Mode != userns.Single {
		if err := s.opts.Plan.Apply(s.pid); err != nil {
			return fmt.Errorf("map IDs: %w", err)
		}
		if err := send(s.sock, message{Type: msgMapped}); err != nil {
			return fmt.Errorf("protocol: %w", err)
		}
	}
	if _, err := expect(s.sock, msgReady); err != nil {
		return fmt.Errorf("sandbox init did not start: %w", err)
	}
	if s.opts.Network != nil && s.net == nil {
		if err := s.startNet(); err != nil {
			return err
		}
	}
	s.spec.Control = s.opts.Control != nil
	if err := send(s.sock, message{Type: msgSpec, Spec: s.spec}); err != nil {
		return fmt.Errorf("protocol: %w", err)
	}
	if s.opts.Control != nil {
		if err := send(s.sock, message{Type: msgControl}, int(s.opts.Control.Fd())); err != nil {
			return fmt.Errorf("protocol: %w", err)
		}
	}
	if s.net != nil && s.spec.Net != nil && len(s.spec.Net.PortOpaque) > 0 {
		if err := s.net.Publish(10 * time.Second); err != nil {
			return err
		}
		if err := send(s.sock, message{Type: msgNetReady}); err != nil {
			return fmt.Errorf("protocol: %w", err)
		}
	}
	for {
		m, fds, err := recv(s.sock)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("protocol: %w", err)
		}
		switch m.Type {
		case msgPty:
			if len(fds) != 1 {
				return errors.New("protocol: pty message without its fd")
			}
			master := os.NewFile(uintptr(fds[0]), "ptmx")
			if s.opts.Pty != nil {
				s.ptyDone = s.opts.Pty(master)
				continue
			}
			s.tty.Store(startRelay(master, s.opts.Stdin, s.opts.Stdout))
		case msgNotice:
			if s.opts.Notice != nil {
				s.opts.Notice(m.Text)
			}
		case msgProgress:
			if s.opts.Progress != nil {
				s.opts.Progress(m.Text)
			}
		case msgProbe:
			if s.opts.Probed != nil {
				s.opts.Probed(m.Text)
			}
		case msgOOM:
			s.oomKills.Store(int64(m.Code))
		case msgStarted:
			s.started.Store(true)
			if s.opts.Started != nil {
				s.opts.Started(s.pid, s.scope.Where())
			}
		case msgError:
			if m.Error == nil {
				return errors.New("protocol: error message without error")
			}
			return m.Error
		}
	}
}

func (s *session) startNet() error {
	p, n, err := slirp.Start(s.pid, *s.opts.Network)
	s.net = p
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	s.spec.Net = n
	return nil
}

func (s *session) finishRelay() {
	if t := s.tty.Load(); t != nil {
		t.finish()
	}
	if s.ptyDone != nil {
		s.ptyDone()
	}
}

// handleSignals passes the signals a user sends burrow to the sandbox's
// pid 1, which relays them to the command (holding those that come during
// set-up until it runs).
func (s *session) handleSignals() func() {
	return forwardSignals(&s.tty, func(sig syscall.Signal) { _ = unix.Kill(s.pid, sig) })
}

// forwardSignals passes the signals a user sends burrow on with pass; a
// window-size change goes to the pty once there is one, whose kernel side
// then signals the foreground process group itself. The function it
// returns stops it.
func forwardSignals(tty *atomic.Pointer[ttyRelay], pass func(syscall.Signal)) func() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, forwarded...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				if t := tty.Load(); sig == unix.SIGWINCH && t != nil {
					t.resize()
					continue
				}
				pass(sig.(syscall.Signal))
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// relayLog prints init's JSON records through the parent's logger.
func relayLog(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// Keep the record's own key order (a map would shuffle it).
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			continue
		}
		msg, args := "", []any{"stage", "init"}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				break
			}
			var v any
			if dec.Decode(&v) != nil {
				break
			}
			switch k {
			case "msg":
				msg, _ = v.(string)
			case "time", "level":
			default:
				args = append(args, k, v)
			}
		}
		log.Debug(msg, args...)
	}
}
