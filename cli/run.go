package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

const runExamples = `
EXAMPLES:
   burrow run -- make test              build in a sandbox; the project is read-write
   burrow run -- sh -c 'id; hostname'   uid 0 inside, hostname burrow
   burrow run --ro-bind ~/.gitconfig -- git status
   burrow run --bind /srv/cache:/cache --env CI -- ./build.sh
   burrow run --rootfs ./alpine -- /bin/sh
   burrow run --user 1000 -- whoami     needs --map=full (subordinate IDs)
   echo data | burrow run -- sort > out pipes work both ways
`

// listFlag collects a repeated flag. urfave's StringSliceFlag refuses a
// mix of a flag's long and short names (-e A --env B).
type listFlag struct{ list *[]string }

func (f *listFlag) Set(v string) error { *f.list = append(*f.list, v); return nil }
func (f *listFlag) String() string     { return "" }

// runLists collect the repeatable flags of run, shell and profile show.
type runLists struct {
	mounts          []mountArg
	envs            []string
	publish, dns    []string
	capAdd, capDrop []string
}

func runFlags(l *runLists) []ucli.Flag {
	mounts, envs := &l.mounts, &l.envs
	return []ucli.Flag{
		debugFlag,
		&ucli.StringFlag{Name: "map", Value: "auto", Usage: "ID mapping: auto, full (caller + /etc/subuid ranges) or single (caller only)"},
		&ucli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run the command as `UID[:GID]` inside (must be mapped)"},
		&ucli.GenericFlag{Name: "bind", Value: &mountFlag{sandbox.Bind, false, mounts}, Usage: "bind host `SRC[:DST]` read-write"},
		&ucli.GenericFlag{Name: "ro-bind", Value: &mountFlag{sandbox.Bind, true, mounts}, Usage: "bind host `SRC[:DST]` read-only"},
		&ucli.GenericFlag{Name: "tmpfs", Value: &mountFlag{sandbox.Tmpfs, false, mounts}, Usage: "mount an empty tmpfs on `DST`"},
		&ucli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory `DIR` inside (default: the current directory, or the home)"},
		&ucli.StringFlag{Name: "rootfs", Usage: "use the root file system in `DIR` instead of the host's (the lower layer of a copy-on-write root: DIR never changes)"},
		&ucli.StringFlag{Name: "hostname", Value: "burrow", Usage: "host name inside"},
		// -e is a flag of its own on the same list: urfave refuses a
		// command line that mixes a flag's alias and name.
		&ucli.GenericFlag{Name: "env", Value: &listFlag{envs}, Usage: "set `K=V`, or pass the caller's K (also -e)"},
		&ucli.GenericFlag{Name: "e", Value: &listFlag{envs}, Hidden: true},
		&ucli.BoolFlag{Name: "env-all", Usage: "pass the caller's whole environment (unsafe: tokens and keys go in too)"},
		&ucli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the command a pseudo-terminal even if stdin is not one"},
		&ucli.BoolFlag{Name: "no-tty", Aliases: []string{"T"}, Usage: "never give the command a pseudo-terminal"},
		&ucli.IntFlag{Name: "preserve-fds", Usage: "pass `N` more fds (3, 4, ...) to the command"},
		&ucli.StringFlag{Name: "project", Usage: "share the project directory `rw` (read-write), ro (read-only) or cow (changes kept in the sandbox until burrow apply)"},
		&ucli.StringFlag{Name: "root", Usage: "system directories `ro` (read-only) or cow (writable; changes stay in the sandbox)"},
		&ucli.StringFlag{Name: "cow-driver", Usage: "copy-on-write driver: `auto`, native (overlayfs) or fuse (fuse-overlayfs)"},
		&ucli.StringFlag{Name: "image", Usage: "run on the imported image `NAME` (burrow images), copy-on-write"},
		&ucli.StringFlag{Name: "net", Usage: "network: `none` (loopback only), pasta, slirp4netns, host (weaker), or --net alone for the best user-mode driver installed"},
		&ucli.GenericFlag{Name: "publish", Value: &listFlag{&l.publish}, Usage: "publish a port: `[HOSTIP:]HOSTPORT:PORT[/tcp|/udp]` (HOSTIP defaults to 127.0.0.1; also -p)"},
		&ucli.GenericFlag{Name: "p", Value: &listFlag{&l.publish}, Hidden: true},
		&ucli.GenericFlag{Name: "dns", Value: &listFlag{&l.dns}, Usage: "nameserver `IP` for the sandbox's resolv.conf (repeatable)"},
		&ucli.BoolFlag{Name: "allow-host-loopback", Usage: "let the sandbox reach the host's loopback services at 10.0.2.2"},
		&ucli.StringFlag{Name: "seccomp", Usage: "system call filter: `default` (burrow's deny-list), unconfined (none: weaker), or FILE, a profile in the OCI/Docker JSON format"},
		&ucli.BoolFlag{Name: "allow-nested-userns", Usage: "let the command create user namespaces (tools that sandbox themselves; weaker)"},
		&ucli.BoolFlag{Name: "unmask", Usage: "do not hide /proc/kcore, /sys/firmware, ... nor make /proc/sys read-only, so that a nested sandbox (bwrap, podman) can mount its own /proc"},
		&ucli.GenericFlag{Name: "cap-add", Value: &listFlag{&l.capAdd}, Usage: "give uid 0 inside the capability `CAP` too (NET_RAW, SYS_PTRACE, ...; all for every one)"},
		&ucli.GenericFlag{Name: "cap-drop", Value: &listFlag{&l.capDrop}, Usage: "take the capability `CAP` from uid 0 inside (all for every one)"},
		&ucli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "hard memory limit `SIZE` (512M, 2G); the kernel kills above it"},
		&ucli.StringFlag{Name: "memory-high", Usage: "memory `SIZE` above which the sandbox is throttled"},
		&ucli.Float64Flag{Name: "cpus", Usage: "CPU time `N.N` (1.0 is one CPU)"},
		&ucli.Int64Flag{Name: "pids", Usage: "at most `N` tasks at once"},
		&ucli.Int64Flag{Name: "cpu-weight", Usage: "CPU share `1-10000` (100 by default)"},
		&ucli.Int64Flag{Name: "io-weight", Usage: "I/O share `1-10000` (100 by default)"},
		&ucli.StringFlag{Name: "cgroups", Usage: "cgroup manager: `auto`, systemd (a user scope), cgroupfs (your own delegated cgroup), or none"},
		&ucli.StringFlag{Name: "name", Usage: "name the sandbox `NAME` and keep it (its file system changes, configuration and status) after it ends: burrow start, diff and rm take the name; a run with the name of a stopped sandbox continues from its file system"},
		&ucli.StringFlag{Name: "profile", Usage: "apply the profile `FILE|NAME` over the project's (a path, a built-in: default, strict, or ~/.config/burrow/profiles/NAME.toml)"},
		&ucli.BoolFlag{Name: "no-profile", Usage: "ignore the project's burrow.toml"},
		&ucli.BoolFlag{Name: "trust", Usage: "run even if the project profile asks for more than your config allows and is not trusted (for CI; also BURROW_TRUST=1)"},
	}
}

func runCommand() *ucli.Command {
	var lists runLists
	return &ucli.Command{
		Name:      "run",
		Usage:     "run a command in a new sandbox",
		UsageText: "burrow run [OPTIONS] [--] [COMMAND [ARG...]]",
		Description: `Runs COMMAND (default: an interactive shell) in a new sandbox and exits with its
status. The sandbox sees the host's /usr, /etc, ... read-only, a new /proc, a
minimal /dev, private /tmp, /var/tmp and /run, an empty home at $HOME, and the
project read-write: the directory of the nearest burrow.toml, else the current
directory (not when it is /, the home, or holds the home). By default only PATH,
TERM, COLORTERM, LANG, LC_*, TZ and NO_COLOR come from the caller's environment.
Profiles (burrow.toml, ~/.config/burrow/config.toml) set every option too.` + runExamples,
		Flags: append(runFlags(&lists),
			&ucli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background: print the sandbox's name once the command runs (see burrow ps, logs, exec, stop)"}),
		OnUsageError: usageError,
		Action:       func(c *ucli.Context) error { return runAction(c, c.Args().Slice(), &lists) },
	}
}

func shellCommand() *ucli.Command {
	var lists runLists
	return &ucli.Command{
		Name:         "shell",
		Usage:        "start an interactive shell in a new sandbox",
		UsageText:    "burrow shell [OPTIONS]",
		Description:  "Same as 'burrow run' without a command: your $SHELL if the sandbox has it, else /bin/sh.",
		Flags:        runFlags(&lists),
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			if c.Args().Present() {
				return ucli.Exit(fmt.Sprintf("shell takes no command (got %q); use 'burrow run -- COMMAND'", c.Args().First()), sandbox.CodeSetup)
			}
			return runAction(c, nil, &lists)
		},
	}
}

func runAction(c *ucli.Context, args []string, lists *runLists) error {
	log := logger(c, c.App.ErrWriter)
	host, err := currentHost()
	if err != nil {
		return ucli.Exit(err.Error(), sandbox.CodeSetup)
	}
	l, err := newLaunch(c, host, args, lists)
	if err != nil {
		return ucli.Exit(err.Error(), sandbox.CodeSetup)
	}
	name := c.String("name")
	if c.Bool("detach") {
		return detach(c, l, host, name)
	}
	var sb *sandbox.Sandbox
	if l.needsState(name) {
		sweep(host, log)
		if sb, err = storeFor(host).Open(name); err != nil {
			return ucli.Exit(err.Error(), sandbox.CodeSetup)
		}
		defer func() { finishState(sb, host, log) }()
		if sb.State.Named {
			if err := saveLaunch(sb.Dir, l); err != nil {
				return ucli.Exit(err.Error(), sandbox.CodeSetup)
			}
		}
	}
	var debugOut io.Writer = io.Discard
	if l.Req.Debug {
		debugOut = c.App.ErrWriter
	}
	var preserve []*os.File
	for i := 0; i < l.Req.PreserveFDs; i++ {
		preserve = append(preserve, os.NewFile(uintptr(3+i), fmt.Sprintf("fd%d", 3+i)))
	}
	code, err := execute(l, host, sb, runIO{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, preserve: preserve,
		log: log, debug: debugOut,
		notice: func(s string) { fmt.Fprintf(c.App.ErrWriter, "burrow: notice: %s\n", s) },
	})
	if err != nil {
		return ucli.Exit(oneLine(err.Error()), code)
	}
	if code != 0 {
		return ucli.Exit("", code)
	}
	return nil
}

// finishState keeps a named sandbox's state and discards an unnamed one.
func finishState(sb *sandbox.Sandbox, h hostInfo, log *slog.Logger) {
	if sb.State.Named {
		sb.Release()
		return
	}
	// Deleted while still locked, so no other burrow sweeps it meanwhile.
	if err := removeState([]string{sb.Dir}, h, log); err != nil {
		log.Warn(err.Error())
	}
	sb.Release()
}

// effective merges the profiles and the flags of a run-like command.
func effective(c *ucli.Context, host hostInfo, lists *runLists) (*loaded, error) {
	flags, err := flagLayer(c, lists, host.Cwd)
	if err != nil {
		return nil, err
	}
	return loadProfiles(host, profileOpts{Profile: c.String("profile"), NoProfile: c.Bool("no-profile")}, flags)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
