package sandbox

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// ttyRelay copies between the caller's stdio and the sandbox's pty, with
// the caller's terminal (if stdin is one) in raw mode so that every key,
// Ctrl-C and Ctrl-Z included, reaches the sandbox's line discipline.
type ttyRelay struct {
	master  *os.File
	in, out *os.File
	saved   *unix.Termios
	outDone chan struct{}
	once    sync.Once
}

func startRelay(master, in, out *os.File) *ttyRelay {
	t := &ttyRelay{master: master, in: in, out: out, outDone: make(chan struct{})}
	if st, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
		saved := *st
		t.saved = &saved
		raw := *st
		makeRaw(&raw)
		_ = unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw)
		t.resize()
	}
	go func() {
		_, _ = io.Copy(master, in)
		if t.saved == nil {
			// End of piped input: the sandbox's terminal sees EOF
			// the way a typed Ctrl-D gives it.
			_, _ = master.Write([]byte{4})
		}
	}()
	go func() {
		// Ends with EIO once every slave fd is closed: the whole
		// sandbox has exited.
		_, _ = io.Copy(out, master)
		close(t.outDone)
	}()
	return t
}

// resize copies the caller's window size to the pty.
func (t *ttyRelay) resize() {
	ws, err := unix.IoctlGetWinsize(int(t.in.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// finish drains the output and gives the caller's terminal back.
func (t *ttyRelay) finish() {
	<-t.outDone
	t.restore()
	t.master.Close()
}

func (t *ttyRelay) restore() {
	t.once.Do(func() {
		if t.saved != nil {
			_ = unix.IoctlSetTermios(int(t.in.Fd()), unix.TCSETS, t.saved)
		}
	})
}

// makeRaw is cfmakeraw(3).
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// WindowSize is the size of the terminal f, or 24x80.
func WindowSize(f *os.File) (rows, cols uint16) {
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Row > 0 {
		return ws.Row, ws.Col
	}
	return 24, 80
}

// RawTerminal puts the terminal f in raw mode, if it is one, and returns
// what restores it (safe to call more than once).
func RawTerminal(f *os.File) (restore func()) {
	st, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return func() {}
	}
	saved, raw := *st, *st
	makeRaw(&raw)
	_ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &raw)
	var once sync.Once
	return func() { once.Do(func() { _ = unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &saved) }) }
}
