package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/burrow-sandbox/burrow/userns"
	"golang.org/x/sys/unix"
)

// controller is pid 1's side of the control socket: burrow exec starts
// processes through it, burrow stop and kill signal the command.
//
// pid 1 forks exec'd processes itself rather than burrow setns(2)-ing into
// the sandbox: a Go program cannot join a user or mount namespace (setns
// refuses a multi-threaded caller for the first, one that shares its
// fs_struct with other threads for the second; runc needs a C constructor,
// nsexec, for this). A child of pid 1 is in every namespace, the cgroup,
// the root and the working directory of the sandbox by construction, and
// gets no_new_privs on the same path as the command.
type controller struct {
	spec     *Spec
	listener int // -1: no control socket
	main     int // the command's pid
	cgroupNS int // the command's cgroup namespace, -1 if none of its own

	mu    sync.Mutex
	procs map[int]chan int // exec'd pid → its exit status
}

// serve accepts connections until the sandbox ends.
func (c *controller) serve() {
	for {
		fd, _, err := unix.Accept4(c.listener, unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		go c.handle(fd)
	}
}

func (c *controller) handle(fd int) {
	defer unix.Close(fd)
	m, fds, err := recv(fd)
	if err != nil {
		closeAll(fds)
		return
	}
	switch m.Type {
	case msgKill:
		closeAll(fds)
		if m.All {
			// From pid 1, kill(-1) reaches every other process of
			// the pid namespace; the command's end then ends init.
			_ = unix.Kill(-1, unix.SIGKILL)
		} else if err := unix.Kill(c.main, syscall.Signal(m.Signal)); err != nil {
			_ = send(fd, message{Type: msgError, Error: setupErr("signal %d: %v", m.Signal, err)})
			return
		}
		_ = send(fd, message{Type: msgOK})
	case msgExec:
		c.exec(fd, m.Exec, fds)
	default:
		closeAll(fds)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// exec starts one process and reports its end on the connection. The
// client going away (burrow exec killed) kills the process: nothing it
// started outlives it unseen.
func (c *controller) exec(conn int, req *ExecRequest, fds []int) {
	defer closeAll(fds)
	fail := func(e *InitError) { _ = send(conn, message{Type: msgError, Error: e}) }
	if req == nil || len(req.Args) == 0 {
		fail(setupErr("exec: no command"))
		return
	}
	p := process{args: req.Args, env: overlayEnv(c.spec.Env, req.Env), dir: c.spec.Dir,
		uid: c.spec.UID, gid: c.spec.GID, setGroups: c.spec.SetGroups, tty: req.TTY}
	if req.Dir != "" {
		p.dir = req.Dir
	}
	if req.UID != nil {
		p.uid = *req.UID
	}
	if req.GID != nil {
		p.gid = *req.GID
	}
	for _, id := range []struct {
		kind string
		v    uint32
	}{{"uid", p.uid}, {"gid", p.gid}} {
		if !mapped("/proc/self/"+id.kind+"_map", id.v) {
			fail(setupErr("--user: %s %d is not mapped in the sandbox (see /proc/self/%s_map inside)", id.kind, id.v, id.kind))
			return
		}
	}
	if fi, err := os.Stat(p.dir); err != nil || !fi.IsDir() {
		fail(setupErr("working directory %s: not a directory in the sandbox", p.dir))
		return
	}
	path, ierr := lookPath(req.Args[0], p.env)
	if ierr != nil {
		fail(ierr)
		return
	}
	var files []uintptr
	var master, slave *os.File
	if req.TTY {
		var err error
		if master, slave, err = openPty(req.Rows, req.Cols, p.uid, p.gid); err != nil {
			fail(setupErr("allocate a pty: %v", err))
			return
		}
		defer master.Close()
		files = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
	} else {
		if len(fds) != 3 {
			fail(setupErr("exec: want 3 fds, got %d", len(fds)))
			return
		}
		files = []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	}
	pid, done, err := c.fork(path, p, files)
	if slave != nil {
		slave.Close()
	}
	if err != nil {
		code := CodeNotExec
		if errors.Is(err, unix.ENOENT) {
			code = CodeNotFound
		}
		fail(&InitError{Msg: fmt.Sprintf("%s: %v", req.Args[0], err), Code: code})
		return
	}
	closeAll(fds)
	fds = nil
	if master != nil {
		_ = send(conn, message{Type: msgPty}, int(master.Fd()))
		master.Close()
	}
	_ = send(conn, message{Type: msgStarted, Pid: pid})
	gone := make(chan struct{})
	go func() {
		for {
			m, fds, err := recv(conn)
			closeAll(fds)
			if err != nil {
				close(gone)
				return
			}
			if m.Type == msgSignal {
				_ = unix.Kill(pid, syscall.Signal(m.Signal))
			}
		}
	}()
	select {
	case code := <-done:
		_ = send(conn, message{Type: msgExit, Code: code})
	case <-gone:
		_ = unix.Kill(pid, unix.SIGKILL)
		<-done
	}
}

// fork starts p from a thread of its own, which joins the command's cgroup
// namespace and sets no_new_privs; the goroutine ends locked, so the
// runtime retires that thread instead of reusing it. The pid is
// registered before the reaper can see it end.
func (c *controller) fork(path string, p process, files []uintptr) (int, chan int, error) {
	type result struct {
		pid int
		err error
	}
	r := make(chan result, 1)
	done := make(chan int, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	go func() {
		runtime.LockOSThread()
		if c.cgroupNS >= 0 {
			if err := unix.Setns(c.cgroupNS, unix.CLONE_NEWCGROUP); err != nil {
				r <- result{0, fmt.Errorf("join the cgroup namespace: %w", err)}
				return
			}
		}
		pid, err := forkCommand(path, p, files, c.spec)
		r <- result{pid, err}
	}()
	res := <-r
	if res.err != nil {
		return 0, nil, res.err
	}
	c.procs[res.pid] = done
	return res.pid, done, nil
}

// exited delivers the status of an exec'd process the reaper collected.
func (c *controller) exited(pid, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.procs[pid]; ok {
		ch <- code
		delete(c.procs, pid)
	}
}

// overlayEnv is env with the NAME=VALUE entries of set replacing or adding.
func overlayEnv(env, set []string) []string {
	if len(set) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(set))
	names := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !names[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// mapped reports whether id is inside one of the ranges of an uid_map or
// gid_map file.
func mapped(file string, id uint32) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return true // let the kernel decide
	}
	return userns.Contains(userns.ParseMap(string(b)), id)
}
