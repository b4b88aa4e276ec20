package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

// Main runs burrow with args (os.Args) and returns its exit status.
func Main(args []string) int {
	if code, ok := sandbox.Stage(); ok {
		return code
	}
	snapshotFDs()
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(bareNet(args))
	if err == nil {
		return 0
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			printError(stderr, msg)
		}
		return ec.ExitCode()
	}
	printError(stderr, err.Error())
	return sandbox.CodeSetup
}

// printError prints each error on its own "burrow: " line; indented lines
// (the items of a list) continue the line before them.
func printError(w io.Writer, msg string) {
	for _, line := range strings.Split(msg, "\n") {
		if strings.HasPrefix(line, " ") {
			fmt.Fprintln(w, line)
		} else {
			fmt.Fprintf(w, "burrow: %s\n", line)
		}
	}
}

func newApp(stdout, stderr io.Writer) *ucli.App {
	return &ucli.App{
		Name:      "burrow",
		Usage:     "run programs in rootless sandboxes",
		UsageText: "burrow [--debug] COMMAND [OPTIONS] [ARGS...]",
		Description: `burrow gives an ordinary user an isolated sandbox: a user namespace of its own
with mount, pid, net, uts, ipc and cgroup namespaces inside, a read-only view of
the host's system directories, private /tmp and home, and the current directory
read-write. No root, no daemon, no setuid binary of burrow's.`,
		Version:              Version(),
		Writer:               stdout,
		ErrWriter:            stderr,
		HideVersion:          true,
		EnableBashCompletion: false,
		Flags:                []ucli.Flag{debugFlag},
		Commands: append([]*ucli.Command{runCommand(), shellCommand(), psCommand(), execCommand(), logsCommand(),
			stopCommand(), killCommand(), startCommand(), attachCommand(), inspectCommand(), rmCommand(),
			diffCommand(), applyCommand(), importCommand(), imagesCommand(), rmiCommand(), profileCommand(),
			infoCommand(), doctorCommand(), versionCommand(), keeperCommand()},
			trustCommands()...),
		// Errors are printed once, by run; urfave must not exit.
		ExitErrHandler: func(*ucli.Context, error) {},
		OnUsageError:   usageError,
		CommandNotFound: func(c *ucli.Context, name string) {
			fmt.Fprintf(stderr, "burrow: unknown command %q; see 'burrow --help'\n", name)
			cliExit = 125
		},
		After: func(*ucli.Context) error {
			if cliExit != 0 {
				code := cliExit
				cliExit = 0
				return ucli.Exit("", code)
			}
			return nil
		},
	}
}

// cliExit carries CommandNotFound's status to After: urfave gives that
// hook no way to return an error.
var cliExit int

var debugFlag = &ucli.BoolFlag{Name: "debug", Usage: "print what burrow does, stage by stage, on stderr"}

func usageError(c *ucli.Context, err error, _ bool) error {
	where := "burrow"
	if c.Command != nil && c.Command.Name != "" {
		where += " " + c.Command.Name
	}
	return ucli.Exit(fmt.Sprintf("%v; see '%s --help'", err, where), sandbox.CodeSetup)
}

// logger prints to stderr: everything under --debug, warnings otherwise.
func logger(c *ucli.Context, stderr io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if debugOn(c) {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// debugOn: --debug given before or after the command name.
func debugOn(c *ucli.Context) bool {
	for _, x := range c.Lineage() {
		if x.Bool("debug") {
			return true
		}
	}
	return false
}
