package cli

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/burrow-sandbox/burrow/logfile"
	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

// A detached sandbox is held by a keeper: burrow itself, re-executed in a
// session of its own, one per sandbox (never a shared daemon). It holds
// the sandbox's lock, its network driver and published ports, writes the
// command's output to the log and serves attach; when the command ends
// it records the status and exits. The burrow that starts it (run -d,
// start) hands over the sandbox's locked lock file as fd 3, so that no
// other burrow can take the sandbox in between, and waits on fd 4 for
// "started" or "CODE MESSAGE".
const (
	keeperLockFD   = 3
	keeperStatusFD = 4
	// logMax caps a sandbox's log file; with the rotated one a log
	// takes at most twice that.
	logMax = 8 << 20
)

// detach starts a sandbox in the background and prints its name.
func detach(c *ucli.Context, l *launch, host hostInfo, name string) error {
	if l.Req.PreserveFDs > 0 {
		return fail(errors.New("--preserve-fds does not go with --detach: the keeper has no fds of yours to pass"))
	}
	store := storeFor(host)
	sweep(host, logger(c, c.App.ErrWriter))
	if name == "" {
		name = newName(store)
	}
	sb, err := store.Open(name)
	if err != nil {
		return fail(err)
	}
	// Only a sandbox this run made is removed if it never starts: an
	// existing one keeps its file system whatever happens.
	fresh := sb.New
	sb.State.Named = true
	if err := sb.Save(); err != nil {
		sb.Release()
		return fail(fmt.Errorf("sandbox state: %w", err))
	}
	if err := saveLaunch(sb.Dir, l); err != nil {
		sb.Release()
		return fail(err)
	}
	if err := startKeeper(sb, l, fresh, debugOn(c)); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, name)
	return nil
}

// startKeeper starts the keeper of sb, hands it the lock, and waits until
// the command runs or set-up fails.
func startKeeper(sb *sandbox.Sandbox, l *launch, fresh, debug bool) error {
	defer sb.Release()
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	if fi, err := os.Stat(l.Cwd); err != nil || !fi.IsDir() {
		return fail(fmt.Errorf("sandbox %s: its directory %s is gone; burrow rm %s and run it again", sb.State.Name, l.Cwd, sb.State.Name))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fail(err)
	}
	defer devnull.Close()
	args := []string{os.Args[0], "keeper"}
	if fresh {
		args = append(args, "--fresh")
	}
	if debug {
		args = append(args, "--debug")
	}
	cmd := &exec.Cmd{
		Path: exe, Args: append(args, sb.State.Name), Dir: l.Cwd, Env: os.Environ(),
		Stdin: devnull, Stdout: devnull, Stderr: devnull,
		ExtraFiles:  []*os.File{sb.LockFile(), w},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fail(fmt.Errorf("start the keeper: %w", err))
	}
	_ = cmd.Process.Release()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "started" {
		return nil
	}
	code, msg, _ := strings.Cut(line, " ")
	n, err := strconv.Atoi(code)
	if err != nil || msg == "" {
		return fail(fmt.Errorf("sandbox %s: the keeper ended before the command started; see burrow logs %s", sb.State.Name, sb.State.Name))
	}
	return ucli.Exit(msg, n)
}

func keeperCommand() *ucli.Command {
	return &ucli.Command{
		Name:   "keeper",
		Hidden: true,
		Usage:  "hold a detached sandbox (started by run -d and start)",
		Flags:  []ucli.Flag{debugFlag, &ucli.BoolFlag{Name: "fresh"}},
		Action: func(c *ucli.Context) error {
			return ucli.Exit("", keep(c, c.Args().First(), c.Bool("fresh")))
		},
	}
}

// keep is the keeper's life: run the sandbox, log its output, record how
// it ended.
func keep(c *ucli.Context, name string, fresh bool) int {
	status := os.NewFile(keeperStatusFD, "status")
	reported := false
	report := func(code int, msg string) {
		if !reported {
			reported = true
			fmt.Fprintf(status, "%d %s\n", code, oneLine(msg))
			status.Close()
		}
	}
	host, err := currentHost()
	if err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	store := storeFor(host)
	sb, err := store.Adopt(name, os.NewFile(keeperLockFD, "lock"))
	if err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	defer sb.Release()
	l, err := loadLaunch(sb.Dir, name)
	if err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	logw, err := logfile.Create(filepath.Join(sb.Dir, "log"), logMax)
	if err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	defer logw.Close()
	level := slog.LevelWarn
	if debugOn(c) {
		level = slog.LevelDebug
	}
	burrowLog := &lineWriter{w: logw, prefix: "burrow: "}
	log := slog.New(slog.NewTextHandler(burrowLog, &slog.HandlerOptions{Level: level}))
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	defer devnull.Close()
	outR, outW, err1 := os.Pipe()
	errR, errW, err2 := os.Pipe()
	if err := errors.Join(err1, err2); err != nil {
		report(sandbox.CodeSetup, err.Error())
		return sandbox.CodeSetup
	}
	var copies sync.WaitGroup
	for _, p := range []struct {
		stream string
		r      *os.File
	}{{"stdout", outR}, {"stderr", errR}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_ = logw.Copy(p.stream, p.r)
			p.r.Close()
		}()
	}
	rio := runIO{
		stdin: devnull, stdout: outW, stderr: errW, log: log, debug: io.Discard, detached: true,
		notice:  func(s string) { _ = logw.Line("stderr", "burrow: notice: "+s) },
		started: func() { reported = true; fmt.Fprintln(status, "started"); status.Close() },
	}
	if debugOn(c) {
		rio.debug = burrowLog
	}
	var hub *ptyHub
	if l.Req.TTY == "always" {
		if rio.attach, err = socketPath(sb.Dir, ".tty"); err != nil {
			report(sandbox.CodeSetup, err.Error())
			return sandbox.CodeSetup
		}
		if hub, err = newPtyHub(rio.attach, logw); err != nil {
			report(sandbox.CodeSetup, err.Error())
			return sandbox.CodeSetup
		}
		rio.pty = hub.take
	}
	code, err := execute(l, l.host(host), sb, rio)
	outW.Close()
	errW.Close()
	copies.Wait()
	if hub != nil {
		hub.end(code)
	}
	if err != nil {
		_ = logw.Line("stderr", "burrow: "+oneLine(err.Error()))
		if !reported {
			if fresh {
				// Never ran: nothing of it is worth keeping. Gone
				// before run -d hears of the failure and returns.
				logw.Close()
				if rerr := removeState([]string{sb.Dir}, l.host(host), log); rerr != nil {
					log.Warn(rerr.Error())
				}
			}
			report(code, err.Error())
		}
	}
	report(code, "the sandbox ended before its command started")
	return code
}

// lineWriter turns the keeper's own messages into stderr records of the
// log.
type lineWriter struct {
	w      *logfile.Writer
	prefix string
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if err := lw.w.Line("stderr", lw.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// newName makes a name for a sandbox run without --name, docker-style:
// an adjective and an animal, with a number when both are taken.
func newName(store sandbox.Store) string {
	adjectives := []string{"brave", "calm", "clever", "eager", "fuzzy", "gentle", "happy", "jolly", "keen", "lucky",
		"mellow", "nimble", "proud", "quick", "quiet", "shy", "sleepy", "swift", "tidy", "witty"}
	animals := []string{"badger", "beaver", "ferret", "fox", "hare", "hedgehog", "marmot", "mole", "otter", "rabbit",
		"vole", "wombat", "meerkat", "mouse", "gopher", "chipmunk", "prairiedog", "armadillo", "aardvark", "stoat"}
	pick := func(list []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		return list[n.Int64()]
	}
	taken := map[string]bool{}
	for _, n := range store.Names() {
		taken[n] = true
	}
	for i := 0; ; i++ {
		name := pick(adjectives) + "_" + pick(animals)
		if i >= 20 {
			name += "_" + strconv.Itoa(i)
		}
		if !taken[name] {
			return name
		}
	}
}
