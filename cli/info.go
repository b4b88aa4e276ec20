package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/seccomp"
	"github.com/burrow-sandbox/burrow/userns"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// infoReport is `burrow info --format json`: a stable shape for scripts.
type infoReport struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	Kernel  string `json:"kernel"`
	User    struct {
		Name      string `json:"name"`
		UID       uint32 `json:"uid"`
		GID       uint32 `json:"gid"`
		SubUIDs   string `json:"subuids"`
		SubGIDs   string `json:"subgids"`
		NewUIDMap string `json:"newuidmap"`
		NewGIDMap string `json:"newgidmap"`
		Map       string `json:"map"`
		MapReason string `json:"map_reason,omitempty"`
	} `json:"user"`
	CopyOnWrite struct {
		NativeProbe   string `json:"native_probe"`
		FuseOverlayfs string `json:"fuse_overlayfs"`
		Filesystem    string `json:"filesystem"`
	} `json:"copy_on_write"`
	Cgroups struct {
		Version     string `json:"version"`
		Manager     string `json:"manager"`
		Reason      string `json:"reason,omitempty"`
		Controllers string `json:"controllers"`
	} `json:"cgroups"`
	Network map[string]string `json:"network"`
	Seccomp bool              `json:"seccomp"`
	// Protections are what a sandbox's command gets by default.
	Protections struct {
		Seccomp      string   `json:"seccomp"`
		Instructions int      `json:"seccomp_instructions"`
		Caps         []string `json:"capabilities"`
		NoNewPrivs   bool     `json:"no_new_privs"`
		Masked       []string `json:"masked_paths"`
		ReadOnly     []string `json:"read_only_paths"`
		NestedUserns bool     `json:"nested_userns"`
	} `json:"protections"`
	Landlock  int `json:"landlock_abi"`
	Sandboxes struct {
		Running []string `json:"running"`
		Stopped []string `json:"stopped"`
	} `json:"sandboxes"`
	Images     []string `json:"images"`
	StateDir   string   `json:"state_dir"`
	RuntimeDir string   `json:"runtime_dir"`
}

func infoCommand() *ucli.Command {
	return &ucli.Command{
		Name:         "info",
		Usage:        "what this machine and user can do: IDs, copy-on-write, cgroups, network, sandboxes",
		UsageText:    "burrow info [--format text|json]",
		Flags:        []ucli.Flag{formatFlag("text")},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			r := gatherInfo(h)
			return output(c, "text", r, func() error { writeInfo(c.App.Writer, r); return nil })
		},
	}
}

func gatherInfo(h hostInfo) infoReport {
	var r infoReport
	r.Version, r.Commit, r.Go = version, commit(), runtime.Version()
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	u := &r.User
	u.Name, u.UID, u.GID = h.Caller.Name, h.Caller.UID, h.Caller.GID
	u.SubUIDs = ranges(userns.System.SubUID, h.Caller.Name, h.Caller.UID)
	u.SubGIDs = ranges(userns.System.SubGID, h.Caller.Name, h.Caller.GID)
	u.NewUIDMap, u.NewGIDMap = which("newuidmap"), which("newgidmap")
	if plan, err := userns.MakePlan(userns.Auto, h.Caller, userns.System); err == nil {
		u.Map, u.MapReason = string(plan.Mode), plan.Reason
	}
	store := storeFor(h)
	r.StateDir, r.RuntimeDir = store.Dir, runtimeDir()
	r.CopyOnWrite.NativeProbe = "not probed yet (the first copy-on-write run probes)"
	if p := cachedProbe(store.Dir); p != "" {
		r.CopyOnWrite.NativeProbe = p
	}
	r.CopyOnWrite.FuseOverlayfs = versionOf("fuse-overlayfs", "--version")
	r.CopyOnWrite.Filesystem = fsType(store.Dir)
	cg := &r.Cgroups
	cg.Version = "v1 or hybrid"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cg.Version = "v2"
	}
	if d, err := cgroup.Plan(cgroup.Auto, cgroup.Limits{}, cgroup.SystemEnv(h.Caller.Name)); err == nil {
		cg.Manager, cg.Reason = string(d.Manager), d.Reason
		if d.Dir != "" {
			cg.Manager += " (" + d.Dir + ")"
		}
	}
	cg.Controllers = strings.TrimSpace(readFirst(
		fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/cgroup.controllers", h.Caller.UID, h.Caller.UID),
		"/sys/fs/cgroup/cgroup.controllers"))
	r.Network = map[string]string{
		"pasta":       versionOf("pasta", "--version"),
		"slirp4netns": versionOf("slirp4netns", "--version"),
	}
	r.Seccomp = strings.Contains(readFirst("/proc/self/status"), "Seccomp_filters:")
	if abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1); errno == 0 {
		r.Landlock = int(abi)
	}
	pr := &r.Protections
	pr.Seccomp, pr.NoNewPrivs, pr.Masked, pr.ReadOnly = "unavailable on "+runtime.GOARCH, true, sandbox.MaskedPaths, sandbox.ProtectedPaths
	if arch, ok := seccomp.Native(); ok {
		if prog, err := seccomp.Compile(seccomp.Default(false), arch); err == nil {
			pr.Seccomp, pr.Instructions = "default (burrow's deny-list, "+arch.Name+")", len(prog)
		}
	}
	caps, _ := sandbox.Caps(nil, nil)
	pr.Caps = caps.Names()
	r.Sandboxes.Running, r.Sandboxes.Stopped = []string{}, []string{}
	for _, n := range store.Names() {
		if _, _, running, err := store.Load(n); err == nil {
			if running {
				r.Sandboxes.Running = append(r.Sandboxes.Running, n)
			} else {
				r.Sandboxes.Stopped = append(r.Sandboxes.Stopped, n)
			}
		}
	}
	r.Images = []string{}
	for _, i := range listImages(h) {
		r.Images = append(r.Images, i.Name)
	}
	return r
}

func writeInfo(w io.Writer, r infoReport) {
	line := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k+":", v) }
	line("burrow", r.Version+" ("+r.Commit+", "+r.Go+")")
	line("kernel", r.Kernel)
	line("user", fmt.Sprintf("%s (uid %d, gid %d)", r.User.Name, r.User.UID, r.User.GID))
	line("subordinate uids", orNone(r.User.SubUIDs))
	line("subordinate gids", orNone(r.User.SubGIDs))
	line("newuidmap", orNone(r.User.NewUIDMap))
	line("newgidmap", orNone(r.User.NewGIDMap))
	mp := r.User.Map
	if r.User.MapReason != "" {
		mp += " (" + r.User.MapReason + ")"
	}
	line("ID map", mp)
	line("copy-on-write native", r.CopyOnWrite.NativeProbe)
	line("fuse-overlayfs", orNone(r.CopyOnWrite.FuseOverlayfs))
	line("state file system", r.CopyOnWrite.Filesystem)
	line("cgroups", r.Cgroups.Version)
	mgr := r.Cgroups.Manager
	if r.Cgroups.Reason != "" {
		mgr += " (" + r.Cgroups.Reason + ")"
	}
	line("cgroup manager", mgr)
	line("controllers", orNone(r.Cgroups.Controllers))
	line("pasta", orNone(r.Network["pasta"]))
	line("slirp4netns", orNone(r.Network["slirp4netns"]))
	line("seccomp", fmt.Sprint(r.Seccomp))
	pr := r.Protections
	line("protections", fmt.Sprintf("seccomp %s, %d instructions; no_new_privs; nested user namespaces refused", pr.Seccomp, pr.Instructions))
	line("capabilities (uid 0)", strings.Join(pr.Caps, " "))
	line("masked paths", strings.Join(pr.Masked, " "))
	line("read-only paths", strings.Join(pr.ReadOnly, " "))
	line("landlock ABI", fmt.Sprint(r.Landlock))
	line("sandboxes", fmt.Sprintf("%d running, %d stopped", len(r.Sandboxes.Running), len(r.Sandboxes.Stopped)))
	line("images", fmt.Sprint(len(r.Images)))
	line("state directory", r.StateDir)
	line("runtime directory", r.RuntimeDir)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func ranges(file, name string, id uint32) string {
	rs, err := userns.ReadSubIDs(file, name, id)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%d-%d", r.Start, uint64(r.Start)+uint64(r.Count)-1))
	}
	return strings.Join(parts, ", ")
}

func which(prog string) string {
	p, err := exec.LookPath(prog)
	if err != nil {
		return ""
	}
	return p
}

// versionOf is the first line a program prints for its version flag.
func versionOf(prog, flag string) string {
	p := which(prog)
	if p == "" {
		return ""
	}
	out, _ := exec.Command(p, flag).CombinedOutput()
	first := ""
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Contains(l, "unknown argument") {
			continue
		}
		if strings.Contains(l, prog) && strings.Contains(l, "version") {
			return p + ": " + l
		}
		if first == "" {
			first = l
		}
	}
	if first != "" {
		return p + ": " + first
	}
	return p
}

func fsType(dir string) string {
	for d := dir; d != "/" && d != "."; d = parentDir(d) {
		var st unix.Statfs_t
		if unix.Statfs(d, &st) == nil {
			names := map[int64]string{0xef53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs", 0x9123683e: "btrfs",
				0x794c7630: "overlay", 0x65735546: "fuse", 0x6969: "nfs", 0x2fc12fc1: "zfs"}
			if n, ok := names[int64(st.Type)]; ok {
				return n + " at " + d
			}
			return fmt.Sprintf("0x%x at %s", st.Type, d)
		}
	}
	return "unknown"
}

func parentDir(d string) string {
	i := strings.LastIndex(strings.TrimSuffix(d, "/"), "/")
	if i <= 0 {
		return "/"
	}
	return d[:i]
}

func readFirst(paths ...string) string {
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			return string(b)
		}
	}
	return ""
}
