package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/burrow-sandbox/burrow/logfile"
	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// entry is a sandbox as ps and inspect show it.
type entry struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	ExitCode   *int      `json:"exit_code,omitempty"`
	KeeperLost bool      `json:"keeper_lost,omitempty"`
	Command    []string  `json:"command"`
	Created    time.Time `json:"created"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Ports      []string  `json:"ports"`
	Detached   bool      `json:"detached"`
	TTY        bool      `json:"tty"`
	Pid        int       `json:"pid,omitempty"`
	Keeper     int       `json:"keeper_pid,omitempty"`
	Error      string    `json:"error,omitempty"`
}

func entryOf(st sandbox.State, locked bool) entry {
	status, lost := st.Current(locked)
	e := entry{Name: st.Name, Status: status, KeeperLost: lost, Command: st.Command, Created: st.Created,
		Started: st.Started, Finished: st.Finished, Ports: st.Ports, Detached: st.Detached, TTY: st.TTY, Error: st.Error}
	if e.Command == nil {
		e.Command = []string{}
	}
	if e.Ports == nil {
		e.Ports = []string{}
	}
	switch status {
	case sandbox.Running:
		e.Pid, e.Keeper = st.Pid, st.Keeper
	case sandbox.Exited:
		if !lost {
			e.ExitCode = st.ExitCode
		}
	}
	return e
}

// ago is a short age: 45s, 3m, 5h, 2d.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func (e entry) statusText(now time.Time) string {
	switch e.Status {
	case sandbox.Running:
		return "running " + ago(now.Sub(e.Started))
	case sandbox.Exited:
		code := "?"
		if e.ExitCode != nil {
			code = strconv.Itoa(*e.ExitCode)
		}
		when := ""
		if !e.Finished.IsZero() {
			when = " " + ago(now.Sub(e.Finished)) + " ago"
		}
		return fmt.Sprintf("exited (%s)%s", code, when)
	}
	return e.Status
}

func psCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "ps",
		UseShortOptionHandling: true,
		Usage:                  "list running sandboxes (-a: also stopped ones)",
		UsageText:              "burrow ps [-a] [-q] [--format json]",
		Description: `Lists the sandboxes that keep state: named ones (--name, -d) and, while they
run, unnamed copy-on-write ones. STATUS is 'running 3m', or 'exited (CODE) 2m
ago'; 'exited (?)' means the burrow holding the sandbox was killed, so its
command's status is unknown.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "also stopped sandboxes"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only the names"},
			formatFlag("table"),
		},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			store := storeFor(h)
			list := []entry{}
			for _, n := range store.Names() {
				st, _, locked, err := store.Load(n)
				if err != nil {
					continue
				}
				e := entryOf(st, locked)
				if e.Status == sandbox.Running || c.Bool("all") {
					list = append(list, e)
				}
			}
			return output(c, "table", list, func() error {
				if c.Bool("quiet") {
					for _, e := range list {
						fmt.Fprintln(c.App.Writer, e.Name)
					}
					return nil
				}
				now := time.Now()
				tw := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSTATUS\tCOMMAND\tCREATED\tPORTS")
				for _, e := range list {
					cmd := strings.Join(e.Command, " ")
					if len(cmd) > 30 {
						cmd = cmd[:29] + "…"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s ago\t%s\n", e.Name, e.statusText(now), cmd, ago(now.Sub(e.Created)), strings.Join(e.Ports, ", "))
				}
				return tw.Flush()
			})
		},
	}
}

// needRunning loads a sandbox that must be running.
func needRunning(c *ucli.Context) (sandbox.State, error) {
	_, st, _, running, err := loadSandbox(c)
	if err != nil {
		return st, err
	}
	if !running || st.Control == "" {
		return st, fmt.Errorf("sandbox %s is not running; burrow start %s", st.Name, st.Name)
	}
	return st, nil
}

// parseSignal reads TERM, SIGTERM, term or 15.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("signal %q: want a name (TERM, SIGKILL, HUP, ...) or a number", s)
}

func killCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "kill",
		UseShortOptionHandling: true,
		Usage:                  "send a signal to running sandboxes",
		UsageText:              "burrow kill [-s SIGNAL] NAME...",
		Description: `Sends SIGNAL (default KILL) to the sandbox's command. KILL ends every process
in the sandbox at once.`,
		Flags:        []ucli.Flag{&ucli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "the `SIGNAL`: a name (TERM, HUP, ...) or a number"}},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			sig, err := parseSignal(c.String("signal"))
			if err != nil {
				return fail(err)
			}
			return eachName(c, func(name string, h hostInfo) error {
				st, _, running, err := storeFor(h).Load(name)
				if err != nil {
					return err
				}
				if !running || st.Control == "" {
					return fmt.Errorf("sandbox %s is not running", name)
				}
				if err := sandbox.Kill(st.Control, sig, sig == unix.SIGKILL); err != nil {
					return fmt.Errorf("sandbox %s: %w", name, err)
				}
				fmt.Fprintln(c.App.Writer, name)
				return nil
			})
		},
	}
}

// eachName calls f for every NAME argument; the first error ends it.
func eachName(c *ucli.Context, f func(name string, h hostInfo) error) error {
	if !c.Args().Present() {
		return fail(errors.New("give the NAME of a sandbox (burrow ps -a lists them)"))
	}
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	for _, name := range c.Args().Slice() {
		if err := f(name, h); err != nil {
			var ec ucli.ExitCoder
			if errors.As(err, &ec) {
				return err
			}
			return fail(err)
		}
	}
	return nil
}

// stop ends a sandbox: SIGTERM to its command, SIGKILL to everything in it
// after grace, and waits until its keeper has let go. A sandbox that is
// still starting has no control socket yet: each signal is tried again
// until it is delivered or the sandbox is gone.
func stop(store sandbox.Store, name string, grace time.Duration) error {
	signal := func(sig unix.Signal, all bool, until time.Time) {
		for time.Now().Before(until) {
			st, _, running, err := store.Load(name)
			if err != nil || !running || st.Control != "" && sandbox.Kill(st.Control, sig, all) == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if grace > 0 {
		deadline := time.Now().Add(grace)
		signal(unix.SIGTERM, false, deadline)
		if store.WaitUnlocked(name, time.Until(deadline)) {
			return nil
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	signal(unix.SIGKILL, true, deadline)
	if !store.WaitUnlocked(name, time.Until(deadline)) {
		st, _, _, _ := store.Load(name)
		return fmt.Errorf("sandbox %s did not stop within 10s of SIGKILL; its burrow is pid %d", name, st.Keeper)
	}
	return nil
}

func stopCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "stop",
		UseShortOptionHandling: true,
		Usage:                  "stop running sandboxes: SIGTERM, then SIGKILL after a grace period",
		UsageText:              "burrow stop [-t SECONDS] NAME...",
		Flags: []ucli.Flag{&ucli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10,
			Usage: "`SECONDS` to wait after SIGTERM before SIGKILL (0: SIGKILL at once)"}},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			if c.Int("time") < 0 {
				return fail(fmt.Errorf("--time %d: want 0 or more seconds", c.Int("time")))
			}
			return eachName(c, func(name string, h hostInfo) error {
				store := storeFor(h)
				if _, _, _, err := store.Load(name); err != nil {
					return err
				}
				if err := stop(store, name, time.Duration(c.Int("time"))*time.Second); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, name)
				return nil
			})
		},
	}
}

func startCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "start",
		UseShortOptionHandling: true,
		Usage:                  "start stopped sandboxes again, in the background",
		UsageText:              "burrow start [-a] NAME...",
		Description: `Runs a named sandbox's command again with its saved configuration (what the
profiles and flags said when it was first run) on its kept file system. With -a,
start waits for the command and shows its output (or, started with -t, attaches
to its terminal) and exits with its status.`,
		Flags:        []ucli.Flag{debugFlag, &ucli.BoolFlag{Name: "attach", Aliases: []string{"a"}, Usage: "wait for the command, with its output or terminal"}},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			if c.Bool("attach") && c.NArg() > 1 {
				return fail(errors.New("start -a takes one NAME"))
			}
			var since time.Time
			err := eachName(c, func(name string, h hostInfo) error {
				store := storeFor(h)
				if _, _, running, err := store.Load(name); err != nil || running {
					if err == nil {
						fmt.Fprintln(c.App.Writer, name)
					}
					return err
				}
				sb, err := store.Open(name)
				if err != nil {
					return err
				}
				l, err := loadLaunch(sb.Dir, name)
				if err != nil {
					sb.Release()
					return err
				}
				since = time.Now()
				if err := startKeeper(sb, l, false, debugOn(c)); err != nil {
					return err
				}
				if !c.Bool("attach") {
					fmt.Fprintln(c.App.Writer, name)
				}
				return nil
			})
			if err != nil || !c.Bool("attach") {
				return err
			}
			return waitAttached(c, c.Args().First(), since)
		},
	}
}

// waitAttached follows a started sandbox until its command ends and exits
// with its status: its terminal with -t, else its log from since.
func waitAttached(c *ucli.Context, name string, since time.Time) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	store := storeFor(h)
	st, dir, _, err := store.Load(name)
	if err != nil {
		return fail(err)
	}
	if st.Attach != "" {
		code, err := attach(st.Attach, os.Stdin, os.Stdout)
		if err != nil {
			return ucli.Exit(err.Error(), code)
		}
		return exitWith(code)
	}
	if err := printLog(c, store, dir, name, logOptions{since: since, follow: true}); err != nil {
		return fail(err)
	}
	st, _, _, err = store.Load(name)
	if err != nil {
		return fail(err)
	}
	if st.ExitCode == nil {
		return fail(fmt.Errorf("sandbox %s: its burrow went away; the status is unknown", name))
	}
	return exitWith(*st.ExitCode)
}

func exitWith(code int) error {
	if code != 0 {
		return ucli.Exit("", code)
	}
	return nil
}

func inspectCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "inspect",
		Usage:     "describe sandboxes in JSON: configuration, state, pids, mounts, network, limits",
		UsageText: "burrow inspect NAME...",
		Description: `Prints a JSON array with one object per sandbox: "state" (status, exit code,
pids, times), "config" (the saved configuration start uses), "mounts" (the file
system of the last run), "network", "limits", "cgroup", "layers" and "paths".`,
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			var out []any
			err := eachName(c, func(name string, h hostInfo) error {
				st, dir, locked, err := storeFor(h).Load(name)
				if err != nil {
					return err
				}
				cfg, _ := loadLaunch(dir, name)
				var limits any
				if cfg != nil {
					limits = struct {
						Manager string `json:"manager"`
						Values  any    `json:"values"`
					}{cfg.Cgroups, cfg.Limits}
				}
				mounts := st.Mounts
				if mounts == nil {
					mounts = []sandbox.Op{}
				}
				out = append(out, map[string]any{
					"name":    name,
					"state":   entryOf(st, locked),
					"config":  cfg,
					"mounts":  mounts,
					"network": map[string]any{"mode": st.Network, "ports": entryOf(st, locked).Ports},
					"limits":  limits,
					"cgroup":  st.Cgroup,
					"layers":  st.Layers,
					"paths":   map[string]string{"state": dir, "log": filepath.Join(dir, "log"), "control": st.Control, "attach": st.Attach},
				})
				return nil
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.App.Writer)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}

// logOptions are logs' flags.
type logOptions struct {
	follow, timestamps bool
	tail               int
	since              time.Time
}

func logsCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "logs",
		UseShortOptionHandling: true,
		Usage:                  "show the output of a detached sandbox",
		UsageText:              "burrow logs [-f] [--tail N] [--timestamps] NAME",
		Description: `The command's stdout goes to stdout, its stderr to stderr (with -t, the
terminal's output is all stdout). The log keeps the last 8-16 MiB: at 8 MiB the
file is rotated once. -f follows until the sandbox stops.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "go on printing new output until the sandbox stops"},
			&ucli.IntFlag{Name: "tail", Aliases: []string{"n"}, Usage: "only the last `N` lines"},
			&ucli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "prefix each line with its time (RFC 3339)"},
		},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			_, st, dir, _, err := loadSandbox(c)
			if err != nil {
				return fail(err)
			}
			if c.Int("tail") < 0 {
				return fail(fmt.Errorf("--tail %d: want 0 (all) or more lines", c.Int("tail")))
			}
			if _, err := os.Stat(filepath.Join(dir, "log")); err != nil && !st.Detached {
				return fail(fmt.Errorf("sandbox %s has no log: it was not started with -d, so its output went to the terminal", st.Name))
			}
			o := logOptions{follow: c.Bool("follow"), timestamps: c.Bool("timestamps"), tail: c.Int("tail")}
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			if err := printLog(c, storeFor(h), dir, st.Name, o); err != nil {
				return fail(err)
			}
			return nil
		},
	}
}

// printLog writes a sandbox's log records: stdout's to stdout, stderr's to
// stderr; following ends once the sandbox stops.
func printLog(c *ucli.Context, store sandbox.Store, dir, name string, o logOptions) error {
	done := func() bool {
		_, _, running, err := store.Load(name)
		return err != nil || !running
	}
	return logfile.Read(filepath.Join(dir, "log"), logfile.ReadOptions{Tail: o.tail, Since: o.since, Follow: o.follow, Done: done},
		func(r logfile.Record) error {
			w := c.App.Writer
			if r.Stream == "stderr" {
				w = c.App.ErrWriter
			}
			text := r.Text
			if !r.Partial {
				text += "\n"
			}
			if o.timestamps {
				text = r.Time.Format(time.RFC3339Nano) + " " + text
			}
			_, err := io.WriteString(w, text)
			return err
		})
}
