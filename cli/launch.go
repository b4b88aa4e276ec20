package cli

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/slirp"
	"github.com/burrow-sandbox/burrow/userns"
	ucli "github.com/urfave/cli/v2"
)

// launch is a sandbox's configuration as run resolved it from the
// profiles, the flags and the caller. A named sandbox keeps it in
// launch.json: the keeper of a detached sandbox runs from it, and
// burrow start runs the sandbox again the same way, whatever the
// profiles say by then (docker keeps a container's configuration too).
type launch struct {
	Req    request       `json:"request"`
	Caller userns.Caller `json:"caller"`
	Home   string        `json:"home"`
	Cwd    string        `json:"cwd"`
	Shell  string        `json:"shell,omitempty"`
	// Environ are the caller's variables the command gets (what the
	// env keys passed), not the caller's whole environment.
	Environ []string      `json:"environ,omitempty"`
	Limits  cgroup.Limits `json:"limits"`
	Cgroups string        `json:"cgroups"`
}

// newLaunch merges the profiles and the flags of run, checks trust, and
// resolves the image.
func newLaunch(c *ucli.Context, host hostInfo, args []string, lists *runLists) (*launch, error) {
	l, err := effective(c, host, lists)
	if err != nil {
		return nil, err
	}
	if err := l.checkTrust(c.Bool("trust") || os.Getenv("BURROW_TRUST") == "1"); err != nil {
		return nil, err
	}
	log := logger(c, c.App.ErrWriter)
	for _, f := range l.files {
		log.Debug("profile", "stage", "parent", "file", f)
	}
	req := requestFrom(l, args)
	req.PreserveFDs = c.Int("preserve-fds")
	req.Debug = debugOn(c)
	if req.Image != "" {
		if req.Rootfs != "" {
			return nil, fmt.Errorf("--image and --rootfs exclude each other")
		}
		if req.Rootfs, err = imageRootfs(host, req.Image); err != nil {
			return nil, err
		}
		req.Labels["rootfs"] = "--image " + req.Image
	}
	if req.Rootfs != "" && !filepath.IsAbs(req.Rootfs) {
		req.Rootfs = filepath.Join(host.Cwd, req.Rootfs)
	}
	limits, mgr, err := limitsFrom(l.eff)
	if err != nil {
		return nil, err
	}
	env, err := sandbox.BuildEnv(host.Environ, sandbox.EnvOptions{All: req.EnvAll, Pass: req.EnvPass})
	if err != nil {
		return nil, err
	}
	return &launch{Req: req, Caller: host.Caller, Home: host.Home, Cwd: host.Cwd, Shell: host.Shell,
		Environ: env, Limits: limits, Cgroups: string(mgr)}, nil
}

// host is the caller as the launch saw it; the terminal is the present
// process's.
func (l *launch) host(h hostInfo) hostInfo {
	h.Caller, h.Home, h.Cwd, h.Shell, h.Environ = l.Caller, l.Home, l.Cwd, l.Shell, l.Environ
	return h
}

// needsState: the sandbox keeps state (a name, an overlay, an image).
func (l *launch) needsState(name string) bool {
	r := l.Req
	return name != "" || r.Root == "cow" || r.ProjectMode == "cow" || r.Rootfs != ""
}

func saveLaunch(dir string, l *launch) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "launch.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("sandbox state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "launch.json"))
}

func loadLaunch(dir, name string) (*launch, error) {
	b, err := os.ReadFile(filepath.Join(dir, "launch.json"))
	if err != nil {
		return nil, fmt.Errorf("sandbox %s has no saved configuration (made by an older burrow?); burrow rm %s, then run it again", name, name)
	}
	var l launch
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("sandbox %s: launch.json is damaged (%v); burrow rm %s", name, err, name)
	}
	if l.Req.Labels == nil {
		l.Req.Labels = map[string]string{}
	}
	return &l, nil
}

// runIO is where a run's streams and messages go: the caller's terminal
// for run, the log and the pty hub for a detached sandbox's keeper.
type runIO struct {
	stdin, stdout, stderr *os.File
	preserve              []*os.File
	log                   *slog.Logger
	debug                 io.Writer
	notice                func(string)
	pty                   func(*os.File) func()
	// started is called once the state says running.
	started func()
	// detached and attach describe a keeper's sandbox.
	detached bool
	attach   string
}

// execute runs a launch: networking, the spec, the cgroup, the control
// socket, and the state of a sandbox that has one (sb).
func execute(l *launch, h hostInfo, sb *sandbox.Sandbox, rio runIO) (int, error) {
	req := l.Req
	if sb != nil {
		req.Layer = sb.Layer
	}
	nw, err := prepareNetwork(req, rio.debug)
	if err != nil {
		return sandbox.CodeSetup, err
	}
	defer nw.cleanup()
	req.Etc = nw.etc
	spec, plan, notes, err := resolve(req, h, userns.System)
	if err != nil {
		return sandbox.CodeSetup, err
	}
	spec.HostNet = nw.mode == slirp.Host
	rio.log.Debug("network", "stage", "parent", "mode", string(nw.mode), "ports", strings.Join(req.Publish, " "))
	var probed func(string)
	var control *os.File
	name := fmt.Sprintf("run-%d", os.Getpid())
	if sb != nil {
		name = sb.State.Name
		spec.ProbeDir = sb.Dir
		// Keyed by the state directory: its file system decides.
		key := filepath.Dir(filepath.Dir(sb.Dir))
		if spec.NativeProbe = cachedProbe(key); spec.NativeProbe == "" {
			probed = func(r string) { saveProbe(key, r) }
		}
		st := &sb.State
		st.Project, st.ProjectMode, st.Root, st.Rootfs, st.Image = req.Project, req.ProjectMode, req.Root, req.Rootfs, req.Image
		st.Command, st.TTY, st.Detached, st.Attach = spec.Args, spec.TTY, rio.detached, rio.attach
		st.Status, st.Pid, st.Keeper, st.ExitCode, st.Error = sandbox.Created, 0, os.Getpid(), nil, ""
		st.Started, st.Finished, st.Cgroup = time.Time{}, time.Time{}, ""
		st.Network, st.Ports, st.Mounts = string(nw.mode), nil, spec.Mounts
		if nw.options != nil {
			for _, p := range nw.options.Ports {
				// docker's notation: HOSTIP:HOSTPORT->PORT/PROTO
				st.Ports = append(st.Ports, fmt.Sprintf("%s:%d->%d/%s", p.HostIP, p.HostPort, p.Port, p.Proto))
			}
		}
		if control, st.Control, err = listenControl(sb.Dir, ".ctl"); err != nil {
			return sandbox.CodeSetup, err
		}
		path := st.Control
		defer func() { control.Close(); os.Remove(path) }()
		if err := sb.Save(); err != nil {
			return sandbox.CodeSetup, fmt.Errorf("sandbox state: %w", err)
		}
	}
	cg, cgNotes, err := cgroupPlan(l.Limits, cgroup.Manager(l.Cgroups), h, name, spec.Args)
	if err != nil {
		return sandbox.CodeSetup, err
	}
	spec.CgroupNS = cg != nil
	for _, n := range append(notes, cgNotes...) {
		rio.log.Debug(n, "stage", "parent")
	}
	code, err := sandbox.Run(spec, sandbox.Options{
		Plan: plan, Log: rio.log, Preserve: rio.preserve, ProcSys: "/proc/sys",
		Stdin: rio.stdin, Stdout: rio.stdout, Stderr: rio.stderr,
		Notice:  rio.notice,
		Probed:  probed,
		Network: nw.options,
		Cgroup:  cg,
		Control: control,
		Pty:     rio.pty,
		Started: func(pid int, cgroup string) {
			if sb != nil {
				sb.State.Status, sb.State.Pid, sb.State.Cgroup, sb.State.Started = sandbox.Running, pid, cgroup, time.Now().UTC()
				if err := sb.Save(); err != nil {
					rio.log.Warn("sandbox state: " + err.Error())
				}
			}
			if rio.started != nil {
				rio.started()
			}
		},
	})
	if sb != nil {
		st := &sb.State
		st.Status, st.Finished, st.ExitCode, st.Control = sandbox.Exited, time.Now().UTC(), &code, ""
		if err != nil {
			st.Error = oneLine(err.Error())
		}
		if serr := sb.Save(); serr != nil {
			rio.log.Warn("sandbox state: " + serr.Error())
		}
	}
	return code, err
}

// listenControl makes a socket of the sandbox in dir in the runtime
// directory (unix socket paths are short: not the data directory). The
// runtime directory is private, so only the caller can connect.
func listenControl(dir, suffix string) (*os.File, string, error) {
	path, err := socketPath(dir, suffix)
	if err != nil {
		return nil, "", err
	}
	f, err := sandbox.Listen(path)
	return f, path, err
}

// socketPath names a sandbox's socket by its name and its state
// directory: two stores (another XDG_DATA_HOME) may hold the same name.
func socketPath(dir, suffix string) (string, error) {
	rt, err := ensureRuntimeDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(rt, fmt.Sprintf("%s-%x%s", filepath.Base(dir), sum[:4], suffix)), nil
}
