package cli

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/burrow-sandbox/burrow/config"
	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/seccomp"
	"github.com/burrow-sandbox/burrow/userns"
	"golang.org/x/sys/unix"
)

// request is what the flags of run and shell ask for.
type request struct {
	Args     []string
	Map      string
	User     string
	Hostname string
	Workdir  string
	Rootfs   string
	// Labels name where a value came from, for messages: "--user 5",
	// or `sandbox.user = "5" (from burrow.toml:3)`; keyed map, user, ...
	Labels map[string]string
	// Mounts are checked already (flags) or at load (profiles).
	Mounts []sandbox.UserMount
	// Project is bound (ProjectMode rw or ro) or overlaid (cow) unless
	// it would expose the home.
	Project     string
	ProjectMode string
	// Root is ro or cow; CowDriver auto, native or fuse. Layer gives the
	// overlay directories of the sandbox's state (nil: no state).
	Root  string
	Image string // its rootfs is set in Rootfs by the caller
	// NetMode is none, pasta, slirp4netns, host or auto; Publish and DNS
	// are --publish and --dns; AllowLo is --allow-host-loopback.
	NetMode      string
	Publish, DNS []string
	AllowLo      bool
	// Etc are generated /etc files (resolv.conf, hosts, hostname).
	Etc       map[string]string `json:"-"`
	CowDriver string
	Layer     func(key, lower, target string) (upper, work, stage string, err error) `json:"-"`
	EnvPass   []string                                                               // names, or PREFIX*
	EnvSet    []string                                                               // NAME=VALUE
	EnvAll    bool
	// TTY is auto, always or never.
	TTY string
	// Seccomp is default, unconfined or a profile file; NestedUsers lets
	// the default filter allow user namespaces; Unmask leaves kernel
	// files unmasked; CapAdd and CapDrop change uid 0's capabilities.
	Seccomp         string
	NestedUsers     bool
	Unmask          bool
	CapAdd, CapDrop []string
	PreserveFDs     int  `json:"-"`
	Debug           bool `json:"-"`
}

// what names a request's value in a message.
func (r request) what(key, fallback string) string {
	if l := r.Labels[key]; l != "" {
		return l
	}
	return fallback
}

// mountArg is one --bind, --ro-bind or --tmpfs, in command-line order.
type mountArg struct {
	Kind     sandbox.Kind
	ReadOnly bool
	Value    string
}

// mountFlag appends to one list shared by the three mount flags, so that
// their relative order survives: a later mount may go inside an earlier.
type mountFlag struct {
	kind sandbox.Kind
	ro   bool
	list *[]mountArg
}

func (f *mountFlag) Set(v string) error {
	*f.list = append(*f.list, mountArg{f.kind, f.ro, v})
	return nil
}

func (f *mountFlag) String() string { return "" }

func (m mountArg) flag() string {
	switch {
	case m.Kind == sandbox.Tmpfs:
		return "--tmpfs"
	case m.ReadOnly:
		return "--ro-bind"
	}
	return "--bind"
}

// hostInfo is what resolve needs to know about the caller.
type hostInfo struct {
	Caller  userns.Caller
	Home    string
	Cwd     string
	Shell   string
	Environ []string
	// StdinTTY: stdin is a terminal; Rows and Cols its size.
	StdinTTY   bool
	Rows, Cols uint16
	// FDOpen reports whether the caller's fd is open.
	FDOpen func(int) bool
}

// inherited are the fds above 2 that burrow was started with. An fd that
// survived execve has close-on-exec clear; every fd the Go runtime opens
// has it set (since Go 1.25 the runtime keeps cgroup files open to track
// the CPU quota), so the flag tells the caller's fds from the runtime's.
var inherited = map[int]bool{}

func snapshotFDs() {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dfd), "/proc/self/fd")
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == dfd {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			inherited[fd] = true
		}
	}
}

func currentHost() (hostInfo, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return hostInfo{}, fmt.Errorf("current directory: %w", err)
	}
	h := hostInfo{
		Caller:  userns.Caller{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())},
		Home:    os.Getenv("HOME"),
		Cwd:     cwd,
		Shell:   os.Getenv("SHELL"),
		Environ: os.Environ(),
		FDOpen:  func(fd int) bool { return inherited[fd] },
	}
	h.Caller.Name = strconv.Itoa(int(h.Caller.UID))
	if u, err := user.LookupId(h.Caller.Name); err == nil {
		h.Caller.Name = u.Username
		if h.Home == "" {
			h.Home = u.HomeDir
		}
	}
	if h.StdinTTY = sandbox.IsTerminal(os.Stdin); h.StdinTTY {
		h.Rows, h.Cols = sandbox.WindowSize(os.Stdin)
	}
	return h, nil
}

// resolve checks a request against the host and turns it into a Spec and
// an ID-mapping plan. notes are --debug lines about choices it made.
func resolve(req request, h hostInfo, files userns.Files) (*sandbox.Spec, userns.Plan, []string, error) {
	var notes []string
	mode, err := userns.ParseMode(req.Map)
	if err != nil {
		return nil, userns.Plan{}, nil, fmt.Errorf("--map: %w", err)
	}
	plan, err := userns.MakePlan(mode, h.Caller, files)
	if err != nil {
		where := req.what("map", "--map full")
		if strings.HasPrefix(where, "--map ") {
			where = "--map=full"
		}
		return nil, plan, nil, fmt.Errorf("%s: %w", where, err)
	}
	if plan.Reason != "" {
		notes = append(notes, "single-ID map: "+plan.Reason)
	}
	spec := &sandbox.Spec{Hostname: req.Hostname, SetGroups: plan.Mode == userns.Full, Debug: req.Debug}
	if spec.UID, spec.GID, err = parseUser(req.User, req.what("user", "--user "+req.User), plan); err != nil {
		return nil, plan, nil, err
	}
	if !config.ValidHostname(req.Hostname) {
		return nil, plan, nil, fmt.Errorf("--hostname %q: want 1 to 64 characters without spaces or slashes", req.Hostname)
	}

	layout := sandbox.Layout{Root: os.DirFS("/"), Home: filepath.Clean(h.Home)}
	if !filepath.IsAbs(h.Home) {
		return nil, plan, nil, fmt.Errorf("$HOME %q is not an absolute path; set HOME", h.Home)
	}
	if req.Rootfs != "" {
		abs, err := filepath.Abs(req.Rootfs)
		if err != nil {
			return nil, plan, nil, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, plan, nil, fmt.Errorf("%s: not a directory; give the directory of an unpacked root file system", req.what("rootfs", "--rootfs "+req.Rootfs))
		}
		layout.Rootfs, layout.Root = abs, os.DirFS(abs)
	}
	project := req.Project
	if project == "" {
		project = h.Cwd
	}
	if exposesHome(project, layout.Home) {
		notes = append(notes, fmt.Sprintf("not binding the project directory %s: it is / or holds the home directory; starting in the empty home", project))
	} else {
		layout.Project = project
		layout.ProjectRO = req.ProjectMode == "ro"
		layout.ProjectCow = req.ProjectMode == "cow"
	}
	layout.Mounts = req.Mounts
	layout.RootCow = req.Root == "cow"
	layout.Unmask = req.Unmask
	layout.Etc = req.Etc
	layout.Layer = req.Layer
	spec.CowDriver = req.CowDriver
	if spec.Mounts, err = sandbox.Table(layout); err != nil {
		return nil, plan, nil, err
	}
	spec.Mounts = append(spec.Mounts, hideRuntimeDir(spec.Mounts, runtimeDir())...)

	// Start where the caller is when that is inside the project (so a
	// subdirectory works as it does on the host), else at its top.
	spec.Dir = layout.Home
	if layout.Project != "" {
		spec.Dir = layout.Project
		if !exposesHome(h.Cwd, layout.Home) && within(h.Cwd, layout.Project) {
			spec.Dir = h.Cwd
		}
	}
	if req.Workdir != "" {
		if !filepath.IsAbs(req.Workdir) {
			return nil, plan, nil, fmt.Errorf("--workdir %q: want an absolute path inside the sandbox", req.Workdir)
		}
		spec.Dir = filepath.Clean(req.Workdir)
	}

	shell := "/bin/sh"
	if h.Shell != "" && sandbox.ExistsInside(layout.Rootfs, h.Shell) {
		shell = h.Shell
	}
	spec.Args = req.Args
	if len(spec.Args) == 0 {
		if layout.Rootfs != "" && !sandbox.ExistsInside(layout.Rootfs, shell) {
			return nil, plan, nil, fmt.Errorf("%s: it has no %s to run as a shell; give a COMMAND", req.what("rootfs", "--rootfs "+req.Rootfs), shell)
		}
		spec.Args = []string{shell}
	}

	name := h.Caller.Name
	spec.Env, err = sandbox.BuildEnv(h.Environ, sandbox.EnvOptions{
		All:  req.EnvAll,
		Pass: req.EnvPass,
		Set:  req.EnvSet,
		Inside: map[string]string{
			"HOME": layout.Home, "USER": name, "LOGNAME": name,
			"SHELL": shell, "HOSTNAME": req.Hostname,
		},
	})
	if err != nil {
		return nil, plan, nil, err
	}

	spec.TTY = req.TTY == "always" || h.StdinTTY && req.TTY != "never"
	spec.Rows, spec.Cols = h.Rows, h.Cols
	if spec.TTY && spec.Rows == 0 {
		spec.Rows, spec.Cols = 24, 80
	}
	if req.PreserveFDs < 0 {
		return nil, plan, nil, fmt.Errorf("--preserve-fds %d: want 0 or more", req.PreserveFDs)
	}
	for i := 0; i < req.PreserveFDs; i++ {
		if h.FDOpen != nil && !h.FDOpen(3+i) {
			return nil, plan, nil, fmt.Errorf("--preserve-fds %d: fd %d is not open; open it (e.g. 3<file) or pass fewer", req.PreserveFDs, 3+i)
		}
	}
	spec.PreserveFDs = req.PreserveFDs
	if spec.Caps, err = sandbox.Caps(req.CapAdd, req.CapDrop); err != nil {
		return nil, plan, nil, err
	}
	if spec.Seccomp, err = seccompProgram(req, spec.Caps); err != nil {
		return nil, plan, nil, err
	}
	notes = append(notes, protections(req, spec))
	return spec, plan, notes, nil
}

// protections describes what confines the command, for --debug.
func protections(req request, spec *sandbox.Spec) string {
	filter := req.Seccomp
	if filter == "" {
		filter = "default"
	}
	if filter == "default" && req.NestedUsers {
		filter += "+nested-userns"
	}
	caps := strings.Join(spec.Caps.Names(), ",")
	if caps == "" {
		caps = "none"
	}
	if spec.UID != 0 {
		caps = "none (uid " + strconv.Itoa(int(spec.UID)) + ")"
	}
	masked, ro := len(sandbox.MaskedPaths), len(sandbox.ProtectedPaths)
	if req.Unmask {
		masked, ro = 0, 0
	}
	return fmt.Sprintf("protections: seccomp=%s (%d instructions) caps=%s no_new_privs=1 pid1-dumpable=0 masked=%d read-only=%d",
		filter, len(spec.Seccomp), caps, masked, ro)
}

// seccompProgram compiles the command's filter for this machine.
func seccompProgram(req request, caps sandbox.CapSet) (seccomp.Program, error) {
	what := req.what("seccomp", "--seccomp "+req.Seccomp)
	arch, ok := seccomp.Native()
	var p seccomp.Profile
	switch req.Seccomp {
	case "unconfined":
		return nil, nil
	case "", "default":
		if !ok {
			return nil, fmt.Errorf("no system call table for %s: burrow's filter needs x86_64 or aarch64; run with --seccomp=unconfined", runtime.GOARCH)
		}
		prog, err := seccomp.DefaultProgram(arch, req.NestedUsers)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		return prog, nil
	default:
		if !ok {
			return nil, fmt.Errorf("%s: no system call table for %s", what, runtime.GOARCH)
		}
		b, err := os.ReadFile(req.Seccomp)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
		var uts unix.Utsname
		_ = unix.Uname(&uts)
		p, err = seccomp.ParseOCI(b, seccomp.Env{Caps: caps.Names(), Kernel: unix.ByteSliceToString(uts.Release[:])})
		if err != nil {
			return nil, fmt.Errorf("%s: %v", what, err)
		}
	}
	prog, err := seccomp.Compile(p, arch)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	return prog, nil
}

// hideRuntimeDir covers burrow's runtime directory with an empty tmpfs
// wherever a bind (the project, a --bind) would show it inside: it holds
// the control sockets of the caller's other sandboxes, through which a
// process could run commands in them.
func hideRuntimeDir(ops []sandbox.Op, rt string) []sandbox.Op {
	var hide []sandbox.Op
	for _, o := range ops {
		if o.Kind != sandbox.Bind || !within(rt, o.Source) {
			continue
		}
		rel, _ := filepath.Rel(o.Source, rt)
		hide = append(hide, sandbox.Op{Kind: sandbox.Tmpfs, Target: filepath.Join(o.Target, rel), Mode: "0700"})
	}
	return hide
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// exposesHome: binding dir would show the whole home (or more).
func exposesHome(dir, home string) bool {
	rel, err := filepath.Rel(dir, home)
	return dir == "/" || err == nil && (rel == "." || !strings.HasPrefix(rel, ".."))
}

func checkMount(m mountArg, cwd string) (sandbox.UserMount, error) {
	um := sandbox.UserMount{Kind: m.Kind, ReadOnly: m.ReadOnly}
	if m.Kind == sandbox.Tmpfs {
		if !filepath.IsAbs(m.Value) {
			return um, fmt.Errorf("--tmpfs %q: want an absolute path inside the sandbox", m.Value)
		}
		um.Target = filepath.Clean(m.Value)
		return um, nil
	}
	src, dst, hasDst := strings.Cut(m.Value, ":")
	if src == "" || hasDst && dst == "" {
		return um, fmt.Errorf("%s %q: want SRC[:DST]", m.flag(), m.Value)
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(cwd, src)
	}
	if _, err := os.Stat(src); err != nil {
		what := "cannot be read"
		if errors.Is(err, os.ErrNotExist) {
			what = "no such file or directory"
		}
		return um, fmt.Errorf("%s %s: %s; create it or fix the path", m.flag(), m.Value, what)
	}
	if !hasDst {
		dst = src
	}
	if !filepath.IsAbs(dst) {
		return um, fmt.Errorf("%s %q: the target %q must be an absolute path", m.flag(), m.Value, dst)
	}
	um.Source, um.Target = filepath.Clean(src), filepath.Clean(dst)
	return um, nil
}

// parseUser reads --user UID[:GID]; the IDs must be mapped. The group
// defaults to the user's number.
func parseUser(s, what string, plan userns.Plan) (uint32, uint32, error) {
	if s == "" {
		return 0, 0, nil
	}
	uid, gid, err := splitUser(s)
	if err != nil {
		return 0, 0, err
	}
	if !userns.Contains(plan.UIDs, uint32(uid)) {
		return 0, 0, fmt.Errorf("%s: uid %d is not mapped in the sandbox (%s); %s", what, uid, describe(plan.UIDs), mapHint(plan))
	}
	if !userns.Contains(plan.GIDs, uint32(gid)) {
		return 0, 0, fmt.Errorf("%s: gid %d is not mapped in the sandbox (%s); %s", what, gid, describe(plan.GIDs), mapHint(plan))
	}
	return uint32(uid), uint32(gid), nil
}

// splitUser reads UID[:GID]; the group defaults to the user's number.
func splitUser(s string) (uid, gid uint32, err error) {
	us, gs, hasG := strings.Cut(s, ":")
	if !hasG {
		gs = us
	}
	u, err1 := strconv.ParseUint(us, 10, 32)
	g, err2 := strconv.ParseUint(gs, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID], e.g. --user 1000:1000", s)
	}
	return uint32(u), uint32(g), nil
}

func describe(maps []userns.Mapping) string {
	return fmt.Sprintf("mapped: 0-%d", userns.Size(maps)-1)
}

func mapHint(plan userns.Plan) string {
	if plan.Mode == userns.Single {
		return "add /etc/subuid and /etc/subgid ranges and use --map=full"
	}
	return "pick an ID in that range"
}
