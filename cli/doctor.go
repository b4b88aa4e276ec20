package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/userns"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// finding is one line of burrow doctor.
type finding struct {
	Check  string `json:"check"`
	Status string `json:"status"` // PASS, WARN or FAIL
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

func doctorCommand() *ucli.Command {
	return &ucli.Command{
		Name:         "doctor",
		Usage:        "run every preflight check; PASS, WARN or FAIL with the exact fix",
		UsageText:    "burrow doctor [--format text|json]",
		Description:  "Exit status 0 when nothing fails, 1 otherwise.",
		Flags:        []ucli.Flag{formatFlag("text")},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			fs := diagnose(h)
			err = output(c, "text", fs, func() error {
				for _, f := range fs {
					fmt.Fprintf(c.App.Writer, "%-4s %-18s %s\n", f.Status, f.Check, f.Detail)
					if f.Fix != "" {
						fmt.Fprintf(c.App.Writer, "     %-18s fix: %s\n", "", f.Fix)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, f := range fs {
				if f.Status == "FAIL" {
					return ucli.Exit("", 1)
				}
			}
			return nil
		},
	}
}

func diagnose(h hostInfo) []finding {
	var fs []finding
	add := func(check, status, detail, fix string) {
		fs = append(fs, finding{check, status, detail, fix})
	}
	// User namespaces: try one, as burrow will.
	if err := tryUserns(); err != nil {
		explained := userns.Explain(err, "/proc/sys")
		fix := "see the sysctl named above"
		var apparmor bool
		if b, e := os.ReadFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); e == nil && strings.TrimSpace(string(b)) == "1" {
			apparmor = true
		}
		switch {
		case apparmor:
			exe, _ := os.Executable()
			fix = fmt.Sprintf("allow burrow, rather than turning the restriction off: sudo tee /etc/apparmor.d/burrow <<'EOF'\nabi <abi/4.0>,\ninclude <tunables/global>\nprofile burrow %s flags=(unconfined) {\n  userns,\n  include if exists <local/burrow>\n}\nEOF\n     then: sudo apparmor_parser -r /etc/apparmor.d/burrow", exe)
		case errors.Is(explained, userns.ErrDisabled):
			if _, f, ok := strings.Cut(explained.Error(), "fix: "); ok {
				fix = f
			}
		case errors.Is(err, unix.EPERM):
			fix = "a seccomp filter (e.g. a container's) blocks unshare/clone of user namespaces: run burrow on the host, or give the container a profile that allows them"
		}
		add("user namespaces", "FAIL", explained.Error(), fix)
	} else {
		add("user namespaces", "PASS", "an unprivileged user namespace could be created", "")
	}
	// Subordinate IDs and the helpers.
	plan, err := userns.MakePlan(userns.Full, h.Caller, userns.System)
	switch {
	case err == nil:
		add("subordinate IDs", "PASS", fmt.Sprintf("%s maps %d IDs with newuidmap/newgidmap", h.Caller.Name, userns.Size(plan.UIDs)), "")
	case errors.Is(err, userns.ErrNoSubIDs):
		add("subordinate IDs", "WARN", "no /etc/subuid or /etc/subgid range: sandboxes map only you (chown and multi-user programs fail inside)",
			fmt.Sprintf("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", h.Caller.Name))
	default:
		add("subordinate IDs", "WARN", err.Error(), "sudo apt-get install uidmap")
	}
	// Devices.
	for _, d := range []struct{ path, what string }{{"/dev/fuse", "fuse-overlayfs (copy-on-write fallback)"}, {"/dev/net/tun", "slirp4netns networking"}} {
		f, err := os.OpenFile(d.path, os.O_RDWR, 0)
		if err != nil {
			add(d.path, "WARN", fmt.Sprintf("cannot open it (%v): no %s", unwrap(err), d.what), "sudo chmod 0666 "+d.path+" (distributions ship it so)")
			continue
		}
		f.Close()
		add(d.path, "PASS", "usable", "")
	}
	// Copy-on-write programs and the kernel.
	if which("fuse-overlayfs") == "" {
		add("fuse-overlayfs", "WARN", "not installed: --root=cow cannot write host files, and no fallback where native overlayfs fails", "sudo apt-get install fuse-overlayfs")
	} else {
		add("fuse-overlayfs", "PASS", which("fuse-overlayfs"), "")
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	rel := unix.ByteSliceToString(uts.Release[:])
	var maj, min int
	fmt.Sscanf(rel, "%d.%d", &maj, &min)
	if maj < 5 || maj == 5 && min < 12 {
		add("kernel", "FAIL", "Linux "+rel+": burrow needs 5.12 (the mount API), and native overlayfs in a user namespace needs 5.11", "a newer kernel")
	} else {
		add("kernel", "PASS", "Linux "+rel, "")
	}
	// Networking.
	for _, p := range []struct{ prog, pkg string }{{"pasta", "passt"}, {"slirp4netns", "slirp4netns"}} {
		if which(p.prog) == "" {
			add(p.prog, "WARN", "not installed: no --net="+p.prog, "sudo apt-get install "+p.pkg)
		} else {
			add(p.prog, "PASS", which(p.prog), "")
		}
	}
	// Limits.
	d, err := cgroup.Plan(cgroup.Systemd, cgroup.Limits{MemoryMax: 1 << 30, CPUs: 1, Pids: 100, IOWeight: 100}, cgroup.SystemEnv(h.Caller.Name))
	switch {
	case err == nil:
		add("resource limits", "PASS", "systemd user manager at "+d.Bus+" with the controllers delegated", "")
	default:
		msg := strings.TrimPrefix(err.Error(), "cannot enforce --memory 1G --cpus 1 --pids 100 --io-weight 100: ")
		fix := ""
		if i := strings.LastIndex(msg, "; "); i >= 0 {
			msg, fix = msg[:i], msg[i+2:]
		}
		if dcg, e := cgroup.Plan(cgroup.Cgroupfs, cgroup.Limits{}, cgroup.SystemEnv(h.Caller.Name)); e == nil {
			msg += " (your own delegated cgroup " + dcg.Dir + " works for --cgroups=cgroupfs)"
		}
		add("resource limits", "WARN", msg, fix)
	}
	// State directory.
	dir := dataDir(h.Home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		add("state directory", "FAIL", fmt.Sprintf("%s: %v", dir, unwrap(err)), "set XDG_DATA_HOME to a writable directory")
	} else {
		add("state directory", "PASS", dir, "")
	}
	return fs
}

// tryUserns starts /bin/true in a new user namespace.
func tryUserns() error {
	t := "/bin/true"
	if _, err := os.Stat(t); err != nil {
		t = filepath.Join("/usr/bin", "true")
	}
	cmd := exec.Command(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	return cmd.Run()
}

func unwrap(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
