package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// probeMain is burrowprobe, the escape battery's hands inside a sandbox:
// each argument names one attempt, and it prints "NAME: RESULT", the
// errno's name (EPERM) or ok, so that a script asserts the exact failure.
// The scripts bind the test binary's directory in to run it.
func probeMain() int {
	for _, a := range os.Args[1:] {
		name, arg, _ := strings.Cut(a, ":")
		fmt.Printf("%s: %s\n", a, result(attempt(name, arg)))
	}
	return 0
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func cstr(s string) uintptr {
	b := append([]byte(s), 0)
	return uintptr(unsafe.Pointer(&b[0]))
}

func sys(nr uintptr, args ...uintptr) error {
	var a [6]uintptr
	copy(a[:], args)
	_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	if e != 0 {
		return e
	}
	return nil
}

func attempt(name, arg string) error {
	buf := make([]byte, 256)
	p := uintptr(unsafe.Pointer(&buf[0]))
	switch name {
	case "keyctl":
		return sys(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(unix.KEY_SPEC_SESSION_KEYRING&0xffffffff), 1)
	case "add_key":
		_, err := unix.AddKey("user", "burrow-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	case "init_module":
		return sys(unix.SYS_INIT_MODULE, p, 0, cstr(""))
	case "finit_module":
		fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return sys(unix.SYS_FINIT_MODULE, uintptr(fd), cstr(""), 0)
	case "delete_module":
		return sys(unix.SYS_DELETE_MODULE, cstr("burrow_none"), unix.O_NONBLOCK)
	case "kexec_load":
		return sys(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0)
	case "bpf":
		return sys(unix.SYS_BPF, unix.BPF_MAP_CREATE, p, 128)
	case "perf_event_open":
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "userfaultfd":
		// UFFD_USER_MODE_ONLY: allowed without privilege since 5.11.
		return sys(unix.SYS_USERFAULTFD, unix.O_CLOEXEC|1)
	case "io_uring_setup":
		r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, p, 0)
		if e != 0 {
			return e
		}
		unix.Close(int(r))
		return nil
	case "open_by_handle_at":
		buf[0] = 8 // handle_bytes
		return sys(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(unix.AT_FDCWD&0xffffffff), p, unix.O_RDONLY)
	case "acct":
		return sys(unix.SYS_ACCT, 0)
	case "swapon":
		return sys(unix.SYS_SWAPON, cstr("/dev/null"), 0)
	case "reboot":
		return sys(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2, unix.LINUX_REBOOT_CMD_CAD_OFF)
	case "syslog":
		return sys(unix.SYS_SYSLOG, 10, 0, 0) // SYSLOG_ACTION_SIZE_BUFFER
	case "clone3":
		return sys(unix.SYS_CLONE3, 0, 0)
	case "unshare-user":
		return sys(unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	case "tiocsti", "tiocsti-high", "tioclinux":
		cmd := uintptr(unix.TIOCSTI)
		switch name {
		case "tiocsti-high":
			cmd |= 1 << 32 // the kernel keeps only the low 32 bits
		case "tioclinux":
			cmd = unix.TIOCLINUX
		}
		buf[0] = 'x'
		return sys(unix.SYS_IOCTL, 0, cmd, p)
	case "ptrace":
		pid, _ := strconv.Atoi(arg)
		return sys(unix.SYS_PTRACE, unix.PTRACE_ATTACH, uintptr(pid), 0, 0)
	case "pidfd_getfd":
		pid, _ := strconv.Atoi(arg)
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		got, err := unix.PidfdGetfd(fd, 0, 0)
		if err == nil {
			unix.Close(got)
		}
		return err
	case "write":
		fd, err := unix.Open(arg, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	case "readlink":
		_, err := os.Readlink(arg)
		return unwrap(err)
	case "mknod":
		return unix.Mknod(arg, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	case "remount-rw":
		return unix.Mount("", arg, "", unix.MS_REMOUNT|unix.MS_BIND, "")
	case "mount-proc":
		return unix.Mount("proc", arg, "proc", 0, "")
	case "fd":
		n, _ := strconv.Atoi(arg)
		_, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0)
		return err
	case "abstract":
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + arg})
	case "chroot-escape":
		return chrootEscape(arg)
	}
	return fmt.Errorf("unknown attempt %q", name)
}

func unwrap(err error) error {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// chrootEscape is the classic way out of a chroot: chroot into a
// subdirectory while the working directory stays outside it, climb with
// "..", chroot there. After pivot_root and a detached old root, the top
// it reaches is the sandbox's own root, where marker (a host path) is not.
func chrootEscape(marker string) error {
	dir, err := os.MkdirTemp("", "chroot")
	if err != nil {
		return err
	}
	if err := unix.Chroot(dir); err != nil {
		return err
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	if _, err := os.Stat(marker); err == nil {
		return fmt.Errorf("escaped: %s is visible", marker)
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("lost: the sandbox's root is gone")
	}
	return errors.New("contained")
}

// abstractlisten VAR: listen on a new abstract unix socket in the host's
// network namespace for the rest of the script; VAR names it.
func cmdAbstractListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: abstractlisten VAR")
	}
	name := fmt.Sprintf("burrow-test-%d-%s", os.Getpid(), filepath.Base(ts.Getenv("WORK")))
	l, err := net.Listen("unix", "@"+name)
	ts.Check(err)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ts.Defer(func() { l.Close() })
	ts.Setenv(args[0], name)
}
