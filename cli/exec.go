package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

func execCommand() *ucli.Command {
	var envs []string
	return &ucli.Command{
		Name:                   "exec",
		UseShortOptionHandling: true,
		Usage:                  "run a command in a running sandbox",
		UsageText:              "burrow exec [-t] [--env K=V] [--workdir DIR] [--user UID[:GID]] NAME [--] COMMAND [ARG...]",
		Description: `Starts COMMAND inside the running sandbox NAME: in all of its namespaces, its
cgroup, its root, with its environment and working directory (the options
override them). The sandbox's pid 1 starts it, so it is a process of the
sandbox like any other. Its exit status is burrow's; signals burrow gets are
passed on, and the process is killed if burrow exec is. As with run, it gets
a pseudo-terminal of the sandbox when stdin is a terminal (-T: never).

EXAMPLES:
   burrow exec web -- ps
   burrow exec -t web -- sh          an interactive shell in the sandbox
   burrow exec -e DEBUG=1 -w /tmp web -- ./check`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a pseudo-terminal even if stdin is not one"},
			&ucli.BoolFlag{Name: "no-tty", Aliases: []string{"T"}, Usage: "never give the command a pseudo-terminal (it gets your stdio as they are)"},
			&ucli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "accepted for docker's -it: stdin is always passed"},
			&ucli.GenericFlag{Name: "env", Value: &listFlag{&envs}, Usage: "set `K=V`, or pass the caller's K (also -e)"},
			&ucli.GenericFlag{Name: "e", Value: &listFlag{&envs}, Hidden: true},
			&ucli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory `DIR` inside"},
			&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as `UID[:GID]` inside"},
		},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			args := c.Args().Tail()
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			}
			if len(args) == 0 {
				return fail(fmt.Errorf("give a COMMAND: burrow exec NAME -- COMMAND"))
			}
			if c.Bool("tty") && c.Bool("no-tty") {
				return fail(fmt.Errorf("--tty and --no-tty exclude each other"))
			}
			// As run does: a terminal gets a pty of the sandbox's own, so
			// the host's terminal never reaches a process inside.
			tty := c.Bool("tty") || sandbox.IsTerminal(os.Stdin) && !c.Bool("no-tty")
			req := sandbox.ExecRequest{Args: args, TTY: tty}
			for _, e := range envs {
				if k, _, ok := strings.Cut(e, "="); ok {
					if k == "" || strings.ContainsRune(e, 0) {
						return fail(fmt.Errorf("--env %q: want NAME=VALUE or NAME", e))
					}
					req.Env = append(req.Env, e)
				} else if v, ok := os.LookupEnv(e); ok {
					req.Env = append(req.Env, e+"="+v)
				}
			}
			if w := c.String("workdir"); w != "" {
				if !filepath.IsAbs(w) {
					return fail(fmt.Errorf("--workdir %q: want an absolute path inside the sandbox", w))
				}
				req.Dir = filepath.Clean(w)
			}
			if u := c.String("user"); u != "" {
				u32, g32, err := splitUser(u)
				if err != nil {
					return fail(err)
				}
				req.UID, req.GID = &u32, &g32
			}
			if req.TTY {
				req.Rows, req.Cols = sandbox.WindowSize(os.Stdin)
			}
			st, err := needRunning(c)
			if err != nil {
				return fail(err)
			}
			code, err := sandbox.Exec(st.Control, req, os.Stdin, os.Stdout, os.Stderr)
			if err != nil {
				return ucli.Exit(oneLine(err.Error()), code)
			}
			return exitWith(code)
		},
	}
}
