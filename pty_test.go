package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// console is the far end of a pseudo-terminal that burrow runs on, as a
// user's terminal emulator would be.
type console struct {
	t    *testing.T
	ptm  *os.File
	mu   sync.Mutex
	buf  bytes.Buffer
	seen int
}

func (c *console) read() {
	b := make([]byte, 4096)
	for {
		n, err := c.ptm.Read(b)
		c.mu.Lock()
		c.buf.Write(b[:n])
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (c *console) send(s string) {
	c.t.Helper()
	if _, err := c.ptm.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// expect waits for pattern in the output that follows the last match.
func (c *console) expect(pattern string) {
	c.t.Helper()
	if c.within(pattern, 30*time.Second) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Fatalf("no %q in terminal output:\n%s", pattern, c.buf.Bytes()[c.seen:])
}

// within reports whether pattern shows up within d, consuming it if so.
func (c *console) within(pattern string, d time.Duration) bool {
	re := regexp.MustCompile(pattern)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		loc := re.FindIndex(c.buf.Bytes()[c.seen:])
		if loc != nil {
			c.seen += loc[1]
		}
		c.mu.Unlock()
		if loc != nil {
			return true
		}
	}
	return false
}

// startOnPty runs "burrow ARGS..." with a new pty as its controlling
// terminal and stdio.
func startOnPty(t *testing.T, rows, cols uint16, args ...string) (*console, *exec.Cmd) {
	t.Helper()
	return startOnPtyIn(t, t.TempDir(), t.TempDir(), rows, cols, args...)
}

// burrowCmd is "burrow ARGS..." with home and dir.
func burrowCmd(t *testing.T, home, dir string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Args[0] = "burrow" // testscript.Main dispatches on argv[0]
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TERM=dumb", "SHELL=/bin/bash"}
	cmd.Dir = dir
	return cmd
}

func startOnPtyIn(t *testing.T, home, dir string, rows, cols uint16, args ...string) (*console, *exec.Cmd) {
	t.Helper()
	cmd := burrowCmd(t, home, dir, args...)
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, ptm: ptm}
	go c.read()
	t.Cleanup(func() {
		cmd.Process.Kill()
		ptm.Close()
	})
	return c, cmd
}

func TestPtyJobControlAndResize(t *testing.T) {
	checkPrereqs(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed for job control")
	}
	c, cmd := startOnPty(t, 40, 120, "run", "--env", "PS1=READY> ", "--", "bash", "--norc", "--noprofile", "-i")
	before, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(`READY> `)

	// The sandbox has its own terminal, from its own devpts instance.
	c.send("tty; ls /dev/pts; stty size\r")
	c.expect(`/dev/pts/0\r\n0\s+ptmx\r\n40 120\r\n`)

	// Job control: Ctrl-Z stops the foreground job, fg resumes it,
	// Ctrl-C interrupts it.
	// The job prints once it runs, in the foreground process group.
	c.send("sh -c 'echo job-$1; exec sleep 1000' x running\r")
	c.expect(`job-running\r\n`)
	c.send("\x1a")
	c.expect(`Stopped\s+sh -c`)
	c.send("jobs -l\r")
	c.expect(`Stopped`)

	// A window-size change reaches the sandbox's terminal.
	if err := pty.Setsize(c.ptm, &pty.Winsize{Rows: 30, Cols: 90}); err != nil {
		t.Fatal(err)
	}
	// SIGWINCH reaches burrow asynchronously, so a command typed at once
	// may still see the old size (as on any terminal): ask until it shows.
	for i := 0; ; i++ {
		c.send("stty size\r")
		if c.within(`30 90\r\n`, time.Second) {
			break
		}
		if i == 30 {
			t.Fatal("the new window size never reached the sandbox's terminal")
		}
	}

	c.send("fg\r")
	c.expect(`sh -c .*\r\n`)
	// bash prints the job before it hands it the terminal; a Ctrl-C in
	// between reaches bash, which ignores it. Repeat until it lands.
	for i := 0; !c.within(`READY> `, time.Second); i++ {
		if i == 30 {
			t.Fatal("Ctrl-C did not interrupt the resumed job")
		}
		c.send("\x03")
	}
	c.send("echo status=$?\r")
	c.expect(`status=130`)

	c.send("exit 5\r")
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 5 {
		t.Fatalf("burrow exited with %v, want status 5", err)
	}
	// burrow gave the terminal back as it found it (no raw mode left).
	after, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Fatalf("terminal modes not restored: before %+v, after %+v", before, after)
	}
}

func TestPtyRestoredOnSignal(t *testing.T) {
	checkPrereqs(t)
	c, cmd := startOnPty(t, 24, 80, "run", "--", "sh", "-c", "trap 'exit 9' TERM; echo READY; while :; do sleep 0.05; done")
	before, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	c.expect(`READY`)
	raw, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&unix.ICANON != 0 {
		t.Fatal("burrow did not put its terminal in raw mode")
	}
	cmd.Process.Signal(unix.SIGTERM)
	cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 9 {
		t.Fatalf("status %d, want 9 (SIGTERM forwarded to the command)", got)
	}
	after, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag {
		t.Fatalf("terminal still raw after SIGTERM: lflag %#x, want %#x", after.Lflag, before.Lflag)
	}
}

func TestTTYFlags(t *testing.T) {
	checkPrereqs(t)
	// -T: no pty even on a terminal; the command is in its own session
	// without a controlling terminal, so it cannot inject input.
	c, cmd := startOnPty(t, 24, 80, "run", "-T", "--", "sh", "-c", "tty; cut -d' ' -f7 /proc/self/stat")
	c.expect(`not a tty\r\n0\r\n`)
	cmd.Wait()
}

// A detached -t sandbox: attach shows its terminal at the attaching
// terminal's size, Ctrl-P Ctrl-Q detaches and gives the terminal back as it
// was; exec -t opens a second terminal in the same sandbox.
func TestPtyAttachDetachAndExec(t *testing.T) {
	checkPrereqs(t)
	home, dir := t.TempDir(), t.TempDir()
	out, err := burrowCmd(t, home, dir, "run", "-d", "-t", "--name", "ptya", "--env", "PS1=READY> ", "--",
		"bash", "--norc", "--noprofile", "-i").CombinedOutput()
	if err != nil {
		t.Fatalf("run -d -t: %v: %s", err, out)
	}
	t.Cleanup(func() { burrowCmd(t, home, dir, "rm", "-f", "ptya").Run() })

	c, cmd := startOnPtyIn(t, home, dir, 30, 100, "attach", "ptya")
	before, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	c.send("stty size\r")
	c.expect(`30 100\r\n`)
	c.send("echo attached-$((6*7))\r")
	c.expect(`attached-42`)
	c.send("\x10\x11")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("attach after the detach keys: %v", err)
	}
	after, err := unix.IoctlGetTermios(int(c.ptm.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag {
		t.Fatalf("terminal modes not restored after detaching: before %+v, after %+v", before, after)
	}
	if out, _ := burrowCmd(t, home, dir, "ps", "-q").Output(); string(out) != "ptya\n" {
		t.Fatalf("after detaching, burrow ps -q says %q", out)
	}

	e, ecmd := startOnPtyIn(t, home, dir, 24, 80, "exec", "-t", "ptya", "--", "bash", "--norc", "--noprofile", "-i")
	e.send("tty; echo $((1+2))-in-exec; exit 4\r")
	e.expect(`/dev/pts/[1-9][0-9]*\r\n`)
	e.expect(`3-in-exec`)
	ecmd.Wait()
	if got := ecmd.ProcessState.ExitCode(); got != 4 {
		t.Fatalf("exec -t exited %d, want 4", got)
	}

	// On a terminal, exec gives a pty of the sandbox's own without -t
	// too, as run does; with -T the process gets the caller's terminal,
	// which tty(1) cannot name inside (it is not in the sandbox's devpts).
	a, acmd := startOnPtyIn(t, home, dir, 24, 80, "exec", "ptya", "--", "tty")
	a.expect(`/dev/pts/[0-9]+\r\n`)
	acmd.Wait()
	n, ncmd := startOnPtyIn(t, home, dir, 24, 80, "exec", "-T", "ptya", "--", "tty")
	n.expect(`not a tty`)
	ncmd.Wait()
}
