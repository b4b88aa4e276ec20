package sandbox

import (
	"os"

	"golang.org/x/sys/unix"
)

// openPty allocates a pseudo-terminal from the sandbox's own devpts
// instance (so the host's terminal never enters: CVE-2017-5226) and gives
// its slave to the command's user.
func openPty(rows, cols uint16, uid, gid uint32) (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(m), "ptmx")
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return fail(err)
	}
	// TIOCGPTPEER opens the slave through the master, with no path lookup
	// that a process in the sandbox could race (Linux 4.13).
	s, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return fail(errno)
	}
	slave = os.NewFile(s, "pts")
	if rows > 0 && cols > 0 {
		_ = unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}
	if err := unix.Fchown(int(s), int(uid), int(gid)); err != nil {
		slave.Close()
		return fail(err)
	}
	return master, slave, nil
}
