package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/fuseoverlay"
	"github.com/burrow-sandbox/burrow/seccomp"
	"github.com/burrow-sandbox/burrow/slirp"
	"golang.org/x/sys/unix"
)

// forwarded are the signals init relays to the command. SIGCHLD is
// init's own: it reaps.
var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}

// initMain is pid 1 of the sandbox.
func initMain() int {
	// Only what we hand over explicitly may reach the command
	// (CVE-2024-21626 leaked a host fd into a container).
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	// The exec that gained our capabilities cleared the parent-death
	// signal (commit_creds resets it when capabilities grow). Set it
	// again, then prove the parent still lives by writing to it: if it
	// died in between, the write fails with EPIPE.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return CodeSetup
	}
	if err := send(fdSock, message{Type: msgReady}); err != nil {
		return CodeSetup
	}
	// Nothing in the sandbox may read pid 1's memory or open its fds or
	// its executable through /proc/1 (a way to overwrite burrow's binary:
	// runc's CVE-2019-5736, and to reach the control sockets): a process
	// that is not dumpable can be inspected only with CAP_SYS_PTRACE,
	// which the command does not get by default.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return CodeSetup
	}
	m, err := expect(fdSock, msgSpec)
	if err != nil || m.Spec == nil {
		return CodeSetup
	}
	spec := m.Spec
	ctl := &controller{spec: spec, listener: -1, cgroupNS: -1, procs: map[int]chan int{}}
	if spec.Control {
		m, fds, err := recv(fdSock)
		if err != nil || m.Type != msgControl || len(fds) != 1 {
			return CodeSetup
		}
		ctl.listener = fds[0]
	}
	// Signals that come during set-up wait in this channel and reach
	// the command as soon as it runs (none is lost in between).
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, append(forwarded, unix.SIGCHLD)...)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if spec.Debug {
		log = slog.New(slog.NewJSONHandler(os.NewFile(fdLog, "log"), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	code, ierr := runInit(spec, log, sigs, ctl)
	if ierr != nil {
		log.Debug("init failed", "err", ierr.Msg)
		_ = send(fdSock, message{Type: msgError, Error: ierr})
		return ierr.Code
	}
	return code
}

func setupErr(format string, args ...any) *InitError {
	return &InitError{Msg: fmt.Sprintf(format, args...), Code: CodeSetup}
}

func runInit(spec *Spec, log *slog.Logger, sigs chan os.Signal, ctl *controller) (int, *InitError) {
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		return 0, setupErr("set hostname %q: %v", spec.Hostname, err)
	}
	if !spec.HostNet {
		if err := loopbackUp(); err != nil {
			return 0, setupErr("bring up loopback: %v", err)
		}
	}
	if len(spec.Remove) > 0 {
		return removeAll(spec.Remove)
	}
	if spec.Import != nil {
		return 0, runImport(spec.Import)
	}
	// The network needs the host's ip(8) and the host path of the port
	// driver's socket: both before pivot_root.
	if err := slirp.ConfigureChild(spec.Net); err != nil {
		return 0, setupErr("network: %v", err)
	}
	stopPorts, err := slirp.StartPortChild(spec.Net)
	if err != nil {
		return 0, setupErr("network: %v", err)
	}
	defer stopPorts()
	c := &cow{
		driver: fuseoverlay.Driver(spec.CowDriver), probe: spec.NativeProbe, dir: spec.ProbeDir, log: log,
		notice: func(s string) { _ = send(fdSock, message{Type: msgNotice, Text: s}) },
		probed: func(s string) { _ = send(fdSock, message{Type: msgProbe, Text: s}) },
	}
	if err := applyTable(spec.Mounts, spec.UID, spec.GID, c, log); err != nil {
		return 0, setupErr("mount %v", err)
	}
	if err := enterDir(spec.Dir); err != nil {
		return 0, setupErr("working directory %s: %v", spec.Dir, err)
	}
	if spec.Net != nil && len(spec.Net.PortOpaque) > 0 {
		// The command starts once the host listens on its ports.
		if _, err := expect(fdSock, msgNetReady); err != nil {
			return 0, setupErr("network: the host side did not publish the ports: %v", err)
		}
	}
	path, ierr := lookPath(spec.Args[0], spec.Env)
	if ierr != nil {
		return 0, ierr
	}
	files := []uintptr{0, 1, 2}
	var master *os.File
	if spec.TTY {
		m, s, err := openPty(spec.Rows, spec.Cols, spec.UID, spec.GID)
		if err != nil {
			return 0, setupErr("allocate a pty: %v", err)
		}
		master = m
		defer s.Close()
		files = []uintptr{s.Fd(), s.Fd(), s.Fd()}
	}
	for i := 0; i < spec.PreserveFDs; i++ {
		files = append(files, uintptr(fdFirst+i))
	}
	pid, cgns, err := start(path, spec, files)
	if err != nil {
		code := CodeNotExec
		if errors.Is(err, unix.ENOENT) {
			code = CodeNotFound
		}
		return 0, &InitError{Msg: fmt.Sprintf("%s: %v", spec.Args[0], err), Code: code}
	}
	log.Debug("started", "path", path, "pid", pid)
	if master != nil {
		if err := send(fdSock, message{Type: msgPty}, int(master.Fd())); err != nil {
			return 0, setupErr("hand the pty to burrow: %v", err)
		}
		master.Close()
	}
	if err := send(fdSock, message{Type: msgStarted}); err != nil {
		return 0, setupErr("report start: %v", err)
	}
	// Setup garbage (the spec, the mount table) is dead now; give its
	// pages back, since init lives as long as the sandbox.
	debug.FreeOSMemory()
	// EOF on the socket means burrow died: take the sandbox down even if
	// the parent-death signal was lost.
	go func() {
		for {
			if _, _, err := recv(fdSock); err != nil {
				os.Exit(CodeSetup)
			}
		}
	}()
	ctl.main, ctl.cgroupNS = pid, cgns
	if ctl.listener >= 0 {
		go ctl.serve()
	}
	code := reap(pid, sigs, ctl)
	if spec.CgroupNS {
		// /sys/fs/cgroup is the sandbox's own cgroup (cgroupNS).
		if n := cgroup.OOMKillsIn("/sys/fs/cgroup"); n > 0 {
			_ = send(fdSock, message{Type: msgOOM, Code: n})
		}
	}
	return code, nil
}

// removeAll deletes state directories as root of the user namespace,
// where every file a sandbox made is ours to delete, whatever its owner.
func removeAll(paths []string) (int, *InitError) {
	for _, p := range paths {
		// Overlay work directories are left mode 000.
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				_ = os.Chmod(path, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(p); err != nil {
			return 0, setupErr("remove %s: %v", p, err)
		}
	}
	return 0, nil
}

// start runs the command from a thread of its own, which makes the
// command's cgroup namespace, cuts its capabilities and installs its
// filter: none of that may touch pid 1's other threads. The goroutine
// ends locked to the thread, so the runtime retires the thread instead of
// running other code on it. cgns is an fd of the command's cgroup
// namespace (-1 without one of its own), which burrow exec's processes
// join.
func start(path string, spec *Spec, files []uintptr) (pid, cgns int, err error) {
	type result struct {
		pid, cgns int
		err       error
	}
	r := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		cgns := -1
		if spec.CgroupNS {
			if err := cgroupNS(); err != nil {
				r <- result{0, -1, err}
				return
			}
			fd, err := unix.Open("/proc/thread-self/ns/cgroup", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				r <- result{0, -1, fmt.Errorf("cgroup namespace: %w", err)}
				return
			}
			cgns = fd
		}
		p := process{args: spec.Args, env: spec.Env, dir: spec.Dir, uid: spec.UID, gid: spec.GID, setGroups: spec.SetGroups, tty: spec.TTY}
		pid, err := forkCommand(path, p, files, spec)
		r <- result{pid, cgns, err}
	}()
	res := <-r
	return res.pid, res.cgns, res.err
}

// process is what forkCommand starts: the command, or one of burrow exec.
type process struct {
	args, env []string
	dir       string
	uid, gid  uint32
	setGroups bool
	tty       bool
}

// forkCommand confines the calling (locked, throw-away) thread the way the
// command must be confined, then forks p in a session of its own; the
// child inherits all of it. In this order: no_new_privs (so that no
// setuid binary or file capability undoes the rest, and so that an
// unprivileged filter may be installed), the capability bounding set
// (dropping needs CAP_SETPCAP, which the filter must not be able to take
// away first), then the filter, as late as possible.
func forkCommand(path string, p process, files []uintptr, spec *Spec) (int, error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := boundCaps(spec.Caps); err != nil {
		return 0, err
	}
	if err := seccomp.Install(spec.Seccomp); err != nil {
		return 0, err
	}
	sys := &syscall.SysProcAttr{Setsid: true, Setctty: p.tty, Ctty: 0}
	if p.uid != 0 || p.gid != 0 || p.setGroups {
		sys.Credential = &syscall.Credential{Uid: p.uid, Gid: p.gid, Groups: []uint32{}, NoSetGroups: !p.setGroups}
	}
	return syscall.ForkExec(path, p.args, &syscall.ProcAttr{Dir: p.dir, Env: p.env, Files: files, Sys: sys})
}

// boundCaps cuts the thread's bounding set to keep, and empties its
// inheritable and ambient sets. A process that execs as uid 0 gets its
// bounding set as its permitted and effective sets (no file capabilities:
// root's are all-ones, masked by the bounding set); any other uid gets
// nothing, since inheritable and ambient are empty and no_new_privs
// ignores file capabilities.
func boundCaps(keep CapSet) error {
	last := len(capNames) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if c < 64 && keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	return nil
}

// cgroupNS gives the command a cgroup namespace rooted at the sandbox's
// scope, and that tree, writable (the scope has Delegate=yes), on
// /sys/fs/cgroup, so that tools which make sub-cgroups work. The cgroup
// namespace of the first clone was made before burrow placed pid 1 in
// its scope; this one, made after, is rooted there. It acts on the
// calling (locked) thread, which then forks the command.
func cgroupNS() error {
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("cgroup namespace: %w", err)
	}
	fd, err := newFS("cgroup2", nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("mount the sandbox's cgroup tree: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, "/sys/fs/cgroup", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount the sandbox's cgroup tree on /sys/fs/cgroup: %w", err)
	}
	return nil
}

// reap waits for the command, reaping every other process that ends on the
// way (orphans are re-parented to pid 1), and passes signals on. Its
// result is the shell's convention: the exit code, or 128+N after signal N.
func reap(pid int, sigs chan os.Signal, ctl *controller) int {
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = unix.Kill(pid, sig.(syscall.Signal))
			continue
		}
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err != nil || wpid <= 0 {
				break
			}
			if wpid == pid {
				return ExitCode(ws)
			}
			ctl.exited(wpid, ExitCode(ws))
		}
	}
	return CodeSetup
}

// ExitCode is a shell's $? for a wait status.
func ExitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// enterDir changes to dir and checks that the kernel sees it inside our
// root: getcwd(2) prefixes a directory outside it with "(unreachable)",
// the symptom of runc's CVE-2024-21626.
func enterDir(dir string) error {
	if err := unix.Chdir(dir); err != nil {
		return err
	}
	wd, err := unix.Getwd()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("resolves outside the sandbox (%s)", wd)
	}
	return nil
}

// lookPath finds the command in the PATH of its own environment, with the
// shell's exit codes for failure.
func lookPath(file string, env []string) (string, *InitError) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	denied := ""
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 != 0 {
			return p, nil
		}
		if denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", &InitError{Msg: fmt.Sprintf("%s: permission denied", denied), Code: CodeNotExec}
	}
	return "", &InitError{Msg: fmt.Sprintf("%s: command not found", file), Code: CodeNotFound}
}
