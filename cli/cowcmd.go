package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

// absFilter makes PATH arguments absolute (relative to the current
// directory, which is the same path inside for the project).
func absFilter(args []string, cwd string) []string {
	var out []string
	for _, a := range args {
		if !filepath.IsAbs(a) {
			a = filepath.Join(cwd, a)
		}
		out = append(out, filepath.Clean(a))
	}
	return out
}

func loadSandbox(c *ucli.Context) (hostInfo, sandbox.State, string, bool, error) {
	h, err := currentHost()
	if err != nil {
		return h, sandbox.State{}, "", false, err
	}
	name := c.Args().First()
	if name == "" {
		return h, sandbox.State{}, "", false, fmt.Errorf("give the NAME of a sandbox (burrow run --name NAME made it)")
	}
	st, dir, running, err := storeFor(h).Load(name)
	return h, st, dir, running, err
}

func diffCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "diff",
		Usage:     "show what a sandbox changed: A (added), M (modified), D (deleted)",
		UsageText: "burrow diff [--stat | --patch | --format json] NAME [PATH...]",
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "stat", Usage: "counts per directory tree instead of paths"},
			&ucli.BoolFlag{Name: "patch", Usage: "unified diffs of changed text files"},
			formatFlag("text"),
		},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, st, dir, _, err := loadSandbox(c)
			if err != nil {
				return fail(err)
			}
			cs, err := sandbox.Changes(dir, st, absFilter(c.Args().Tail(), h.Cwd))
			if err != nil {
				return fail(err)
			}
			if cs == nil {
				cs = []sandbox.Change{}
			}
			w := c.App.Writer
			return output(c, "text", cs, func() error {
				switch {
				case c.Bool("stat"):
					writeStat(w, cs, st)
				case c.Bool("patch"):
					return writePatch(w, cs)
				default:
					for _, ch := range cs {
						suffix := ""
						if ch.Dir {
							suffix = "/"
						}
						fmt.Fprintf(w, "%s %s%s\n", ch.Kind, ch.Path, suffix)
					}
				}
				return nil
			})
		},
	}
}

func writeStat(w io.Writer, cs []sandbox.Change, st sandbox.State) {
	type count struct{ a, m, d int }
	per := map[string]*count{}
	var total count
	for _, ch := range cs {
		t := st.Layers[ch.Layer].Target
		if per[t] == nil {
			per[t] = &count{}
		}
		for _, c := range []*count{per[t], &total} {
			switch ch.Kind {
			case "A":
				c.a++
			case "M":
				c.m++
			default:
				c.d++
			}
		}
	}
	targets := make([]string, 0, len(per))
	for t := range per {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		c := per[t]
		fmt.Fprintf(w, "%-40s %d added, %d modified, %d deleted\n", t, c.a, c.m, c.d)
	}
	fmt.Fprintf(w, "%d paths changed: %d added, %d modified, %d deleted\n", len(cs), total.a, total.m, total.d)
}

// writePatch prints unified diffs with diff(1) (diffutils is essential on
// Debian): old from the lower layer, new from the upper.
func writePatch(w io.Writer, cs []sandbox.Change) error {
	for _, ch := range cs {
		if ch.Dir {
			continue
		}
		oldPath, newPath := ch.Old, ch.New
		switch ch.Kind {
		case "A":
			oldPath = os.DevNull
		case "D":
			newPath = os.DevNull
		}
		cmd := exec.Command("diff", "-u", "--label", "a"+ch.Path, "--label", "b"+ch.Path, oldPath, newPath)
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				return fail(fmt.Errorf("diff %s: %v", ch.Path, err))
			}
		}
	}
	return nil
}

func rmCommand() *ucli.Command {
	return &ucli.Command{
		Name:                   "rm",
		UseShortOptionHandling: true,
		Usage:                  "delete sandboxes and their state",
		UsageText:              "burrow rm [-f] NAME...",
		Description: `Deletes a stopped sandbox: its file system changes, configuration, status and
log. A running one is refused unless -f, which kills it first.`,
		Flags:        []ucli.Flag{&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running sandbox first"}},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			return eachName(c, func(name string, h hostInfo) error {
				store := storeFor(h)
				_, _, running, err := store.Load(name)
				if err != nil {
					return err
				}
				if running && !c.Bool("force") {
					return fmt.Errorf("sandbox %s is running; burrow stop %s first, or burrow rm -f %s", name, name, name)
				}
				if running {
					if err := stop(store, name, 0); err != nil {
						return err
					}
				}
				// Locked while it goes, so that no start takes it meanwhile.
				sb, err := store.Open(name)
				if err != nil {
					return err
				}
				defer sb.Release()
				removeLeftovers(sb.State)
				if err := removeState([]string{sb.Dir}, h, logger(c, c.App.ErrWriter)); err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, name)
				return nil
			})
		},
	}
}

// removeLeftovers deletes what a killed keeper could not: its sockets and
// an (empty) cgroupfs leaf. A systemd scope goes by itself once empty.
func removeLeftovers(st sandbox.State) {
	for _, p := range []string{st.Control, st.Attach} {
		if p != "" {
			_ = os.Remove(p)
		}
	}
	if strings.HasPrefix(st.Cgroup, "/") {
		_ = os.Remove(st.Cgroup)
	}
}

func applyCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "apply",
		Usage:     "copy a sandbox's changes to its copy-on-write project back to the host",
		UsageText: "burrow apply [--dry-run] [--force] NAME [PATH...]",
		Description: `Only the project (--project=cow) is applied, never system directories. Each
file is replaced atomically; deletions are applied; modes and symlinks kept.
A host file modified since the sandbox was created is a conflict: apply
refuses and names it, unless --force. Applied paths leave the sandbox's
upper layer, so 'burrow diff' no longer lists them.`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "show what would be applied"},
			&ucli.BoolFlag{Name: "force", Usage: "overwrite host files that changed since the sandbox started"},
		},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, st, dir, running, err := loadSandbox(c)
			if err != nil {
				return fail(err)
			}
			if running {
				return fail(fmt.Errorf("sandbox %s is running; apply when it has ended", st.Name))
			}
			done, err := sandbox.ApplyProject(dir, st, absFilter(c.Args().Tail(), h.Cwd), c.Bool("force"), c.Bool("dry-run"))
			for _, ch := range done {
				fmt.Fprintf(c.App.Writer, "%s %s\n", ch.Kind, ch.Path)
			}
			if err != nil {
				return fail(err)
			}
			return nil
		},
	}
}
