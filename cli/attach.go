package cli

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"

	"github.com/burrow-sandbox/burrow/logfile"
	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// The attach socket of a detached -t sandbox carries packets
// (SOCK_SEQPACKET) whose first byte says what they are:
//
//	keeper → client  'o' DATA     output of the sandbox's terminal
//	keeper → client  'x' CODE     the command ended with CODE (decimal)
//	client → keeper  'i' DATA     typed input
//	client → keeper  'w' ROWS COLS  window size, two big-endian uint16
//
// The keeper is the only reader of the pty: it writes everything to the
// log and copies it to every attached client.
const (
	pktOutput = 'o'
	pktExit   = 'x'
	pktInput  = 'i'
	pktSize   = 'w'
)

// detachKeys end an attach without stopping the sandbox: Ctrl-P Ctrl-Q,
// as in docker and podman.
var detachKeys = []byte{0x10, 0x11}

// ptyHub is the keeper's side.
type ptyHub struct {
	ln     *os.File
	log    *logfile.Writer
	master *os.File

	mu      sync.Mutex
	clients map[int]bool
	done    chan struct{}
}

func newPtyHub(path string, log *logfile.Writer) (*ptyHub, error) {
	ln, err := sandbox.Listen(path)
	if err != nil {
		return nil, err
	}
	return &ptyHub{ln: ln, log: log, clients: map[int]bool{}, done: make(chan struct{})}, nil
}

// take receives the pty master from sandbox.Run; the function it returns
// waits until the terminal's output is drained.
func (h *ptyHub) take(master *os.File) func() {
	h.master = master
	pr, pw := io.Pipe()
	logged := make(chan struct{})
	go func() {
		_ = h.log.Copy("stdout", pr)
		close(logged)
	}()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				_, _ = pw.Write(buf[:n])
				h.broadcast(append([]byte{pktOutput}, buf[:n]...))
			}
			if err != nil { // EIO: every slave is closed
				pw.Close()
				close(h.done)
				return
			}
		}
	}()
	go h.accept()
	return func() {
		<-h.done
		<-logged
		master.Close()
	}
}

func (h *ptyHub) broadcast(pkt []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for fd := range h.clients {
		if err := unix.Send(fd, pkt, 0); err != nil {
			delete(h.clients, fd)
			unix.Close(fd)
		}
	}
}

func (h *ptyHub) accept() {
	for {
		fd, _, err := unix.Accept4(int(h.ln.Fd()), unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return
		}
		h.mu.Lock()
		h.clients[fd] = true
		h.mu.Unlock()
		go h.serve(fd)
	}
}

// serve passes one client's input and window size to the pty.
func (h *ptyHub) serve(fd int) {
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			break
		}
		switch buf[0] {
		case pktInput:
			_, _ = h.master.Write(buf[1:n])
		case pktSize:
			if n == 5 {
				ws := &unix.Winsize{Row: binary.BigEndian.Uint16(buf[1:3]), Col: binary.BigEndian.Uint16(buf[3:5])}
				_ = unix.IoctlSetWinsize(int(h.master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
	}
	h.mu.Lock()
	if h.clients[fd] {
		delete(h.clients, fd)
		unix.Close(fd)
	}
	h.mu.Unlock()
}

// end tells the attached clients the exit status and closes the socket.
func (h *ptyHub) end(code int) {
	h.broadcast(append([]byte{pktExit}, strconv.Itoa(code)...))
	h.mu.Lock()
	for fd := range h.clients {
		unix.Close(fd)
	}
	h.clients = map[int]bool{}
	h.mu.Unlock()
	h.ln.Close()
	os.Remove(h.ln.Name())
}

func attachCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "attach",
		Usage:     "connect your terminal to a detached sandbox started with -t",
		UsageText: "burrow attach NAME",
		Description: `Shows the sandbox's terminal and sends it what you type. Ctrl-P Ctrl-Q
detaches and leaves the sandbox running; when its command ends, attach exits
with its status. Several attaches at once see the same terminal.`,
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			_, st, _, running, err := loadSandbox(c)
			if err != nil {
				return fail(err)
			}
			if !running {
				return fail(fmt.Errorf("sandbox %s is not running; burrow start -a %s", st.Name, st.Name))
			}
			if st.Attach == "" {
				return fail(fmt.Errorf("sandbox %s has no terminal to attach to: it was not started with -d -t; burrow logs -f %s shows its output", st.Name, st.Name))
			}
			code, err := attach(st.Attach, os.Stdin, os.Stdout)
			if err != nil {
				return ucli.Exit(err.Error(), code)
			}
			if code != 0 {
				return ucli.Exit("", code)
			}
			return nil
		},
	}
}

// attach relays between the caller's terminal and a keeper's pty. It
// returns the command's status when it ends, 0 after the detach keys.
func attach(path string, in, out *os.File) (int, error) {
	fd, err := sandbox.Dial(path)
	if err != nil {
		return sandbox.CodeSetup, fmt.Errorf("attach: %w", err)
	}
	defer unix.Close(fd)
	restore := sandbox.RawTerminal(in)
	defer restore()
	sendSize := func() {
		rows, cols := sandbox.WindowSize(in)
		pkt := []byte{pktSize, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(pkt[1:3], rows)
		binary.BigEndian.PutUint16(pkt[3:5], cols)
		_ = unix.Send(fd, pkt, 0)
	}
	if sandbox.IsTerminal(in) {
		sendSize()
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			sendSize()
		}
	}()
	detached := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		var held []byte // a first detach key, waiting for the second
		for {
			n, err := in.Read(buf)
			if n > 0 {
				data, done := scanDetach(&held, buf[:n])
				if len(data) > 0 {
					_ = unix.Send(fd, append([]byte{pktInput}, data...), 0)
				}
				if done {
					close(detached)
					_ = unix.Shutdown(fd, unix.SHUT_RDWR)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		select {
		case <-detached:
			restore()
			fmt.Fprintln(out)
			return 0, nil
		default:
		}
		if err != nil || n == 0 {
			return sandbox.CodeSetup, errors.New("the keeper went away before the command ended")
		}
		switch buf[0] {
		case pktOutput:
			_, _ = out.Write(buf[1:n])
		case pktExit:
			code, _ := strconv.Atoi(string(buf[1:n]))
			return code, nil
		}
	}
}

// scanDetach finds the detach keys in typed input, also split across
// reads: data is what to send on, done that the keys came.
func scanDetach(held *[]byte, in []byte) (data []byte, done bool) {
	all := append(*held, in...)
	*held = nil
	for i := 0; i < len(all); i++ {
		if all[i] != detachKeys[0] {
			continue
		}
		if i+1 == len(all) {
			*held = []byte{all[i]}
			return all[:i], false
		}
		if all[i+1] == detachKeys[1] {
			return all[:i], true
		}
	}
	return all, false
}
