package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// Kind is what a mount-table step does.
type Kind string

// The steps of a mount table. Each one creates its target (and the missing
// parents) inside the new root unless the target is already there.
const (
	Bind    Kind = "bind"    // recursive bind of a host path
	Tmpfs   Kind = "tmpfs"   // a new tmpfs
	Proc    Kind = "proc"    // proc of the new pid namespace
	Sysfs   Kind = "sysfs"   // sysfs of the new net namespace, read-only
	Devpts  Kind = "devpts"  // a new devpts instance
	Symlink Kind = "symlink" // a symbolic link, Source is its text
	Overlay Kind = "overlay" // copy-on-write: Source is the lower, Upper and Work the layer
	Mask    Kind = "mask"    // hide a kernel file (/dev/null over it) or directory (an empty read-only tmpfs)
	Protect Kind = "protect" // make a kernel path read-only (a read-only bind onto itself)
)

// MaskedPaths are kernel interfaces a sandbox has no use for and should
// not read: podman's and Docker's list (runc's maskedPaths). Paths this
// kernel lacks are skipped.
var MaskedPaths = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
	"/sys/devices/virtual/powercap", "/sys/firmware"}

// ProtectedPaths are kernel paths that stay readable but not writable
// (runc's readonlyPaths): sysctls, the magic SysRq trigger, IRQ and bus
// settings.
var ProtectedPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// Op is one step of the mount table: bubblewrap's SetupOp, runc's
// configs.Mount. Target is an absolute path inside the sandbox.
type Op struct {
	Kind     Kind   `json:"kind"`
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"ro,omitempty"`
	// Dev keeps device nodes usable (no nodev): only /dev's own binds.
	Dev bool `json:"dev,omitempty"`
	// Mode is the tmpfs root's permission bits, as mount(8) spells them.
	Mode string `json:"mode,omitempty"`
	// Owned makes the tmpfs belong to the command's user.
	Owned bool `json:"owned,omitempty"`
	// Optional steps are skipped, with a debug record, when their target
	// cannot be created (a read-only image without /var/tmp).
	Optional bool `json:"optional,omitempty"`
	// Upper and Work are an overlay's writable layer, Stage a private
	// mount point where the fuse driver mounts it first (host paths).
	Upper string `json:"upper,omitempty"`
	Work  string `json:"work,omitempty"`
	Stage string `json:"stage,omitempty"`
	// FallbackRO lets an overlay that no driver can mount become a
	// read-only bind, with a notice; Squash shows its files as root's.
	// Both for the host's system directories only.
	FallbackRO bool `json:"fallback_ro,omitempty"`
	Squash     bool `json:"squash,omitempty"`
}

func (o Op) String() string {
	s := string(o.Kind) + " "
	if o.Source != "" {
		s += o.Source + " on "
	}
	s += o.Target
	if o.ReadOnly {
		s += " (ro)"
	}
	return s
}

// HostDirs are the host directories the default view shares read-only.
var HostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// UserMount is a --bind, --ro-bind or --tmpfs request.
type UserMount struct {
	Kind     Kind   // Bind or Tmpfs
	Source   string // absolute host path (Bind)
	Target   string // absolute path inside
	ReadOnly bool
}

// Layout describes the file system of a sandbox.
type Layout struct {
	// Root lists the top of the tree: the host's / for the host view,
	// or the image directory with Rootfs set.
	Root   fs.FS
	Rootfs string
	// Home is the path of the empty private home inside.
	Home string
	// Project is a host directory bound at the same path, read-write
	// unless ProjectRO; empty for none.
	Project   string
	ProjectRO bool
	Mounts    []UserMount
	// RootCow overlays each shared system directory instead of binding
	// it read-only (an image is always the lower of a root overlay);
	// ProjectCow overlays the project. Layer gives an overlay's upper and
	// work directories for a key ("usr", "root", "project").
	RootCow, ProjectCow bool
	// Etc are files bound read-only over /etc/NAME (resolv.conf, hosts,
	// hostname); a name the root lacks is skipped.
	Etc   map[string]string
	Layer func(key, lower, target string) (upper, work, stage string, err error)
	// Unmask leaves out MaskedPaths and ProtectedPaths: a nested sandbox
	// can mount a new /proc or /sys only where the existing one is fully
	// visible (the kernel's mnt_already_visible), without mounts on top.
	Unmask bool
}

// Table turns a Layout into the ordered mount table. Order matters: a
// later step may mount inside an earlier one (the project under /tmp, a
// user bind under the home), never the reverse.
func Table(l Layout) ([]Op, error) {
	var ops []Op
	overlay := func(key, lower, target string) (Op, error) {
		if l.Layer == nil {
			return Op{}, fmt.Errorf("copy-on-write %s: no state directory", target)
		}
		upper, work, stage, err := l.Layer(key, lower, target)
		return Op{Kind: Overlay, Source: lower, Target: target, Upper: upper, Work: work, Stage: stage}, err
	}
	if l.Rootfs != "" {
		// The image is the lower layer of the root itself: it is never
		// modified, and mount points missing in it go to the upper.
		op, err := overlay("root", l.Rootfs, "/")
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	top, err := topLevel(l)
	if err != nil {
		return nil, err
	}
	lstat := func(name string) (fs.FileInfo, error) { return fs.Lstat(l.Root, name) }
	for _, name := range top {
		fi, err := lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		target := "/" + name
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			// Merged-/usr links (/bin -> usr/bin) stay links, so
			// both spellings of a path keep working.
			link, err := fs.ReadLink(l.Root, name)
			if err != nil {
				return nil, err
			}
			ops = append(ops, Op{Kind: Symlink, Source: link, Target: target})
		case fi.IsDir() && l.RootCow:
			op, err := overlay(name, filepath.Join(rootDir(l), name), target)
			if err != nil {
				return nil, err
			}
			op.FallbackRO, op.Squash = true, true
			ops = append(ops, op)
		case fi.IsDir() || fi.Mode().IsRegular():
			ops = append(ops, Op{Kind: Bind, Source: filepath.Join(rootDir(l), name), Target: target, ReadOnly: true})
		}
	}
	ops = append(ops,
		Op{Kind: Proc, Target: "/proc"},
		Op{Kind: Sysfs, Target: "/sys", ReadOnly: true},
	)
	for _, p := range MaskedPaths {
		if !l.Unmask {
			ops = append(ops, Op{Kind: Mask, Target: p, Optional: true})
		}
	}
	for _, p := range ProtectedPaths {
		if !l.Unmask {
			ops = append(ops, Op{Kind: Protect, Target: p, ReadOnly: true, Optional: true})
		}
	}
	ops = append(ops, Op{Kind: Tmpfs, Target: "/dev", Mode: "0755"})
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		ops = append(ops, Op{Kind: Bind, Source: "/dev/" + d, Target: "/dev/" + d, Dev: true})
	}
	ops = append(ops,
		Op{Kind: Devpts, Target: "/dev/pts"},
		Op{Kind: Symlink, Source: "pts/ptmx", Target: "/dev/ptmx"},
		Op{Kind: Tmpfs, Target: "/dev/shm", Mode: "1777"},
		Op{Kind: Symlink, Source: "/proc/self/fd", Target: "/dev/fd"},
		Op{Kind: Symlink, Source: "/proc/self/fd/0", Target: "/dev/stdin"},
		Op{Kind: Symlink, Source: "/proc/self/fd/1", Target: "/dev/stdout"},
		Op{Kind: Symlink, Source: "/proc/self/fd/2", Target: "/dev/stderr"},
		Op{Kind: Tmpfs, Target: "/tmp", Mode: "1777"},
		Op{Kind: Tmpfs, Target: "/var/tmp", Mode: "1777", Optional: l.Rootfs != ""},
		Op{Kind: Tmpfs, Target: "/run", Mode: "0755"},
	)
	if l.Home != "" {
		ops = append(ops, Op{Kind: Tmpfs, Target: l.Home, Mode: "0700", Owned: true})
	}
	switch {
	case l.Project != "" && l.ProjectCow:
		op, err := overlay("project", l.Project, l.Project)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	case l.Project != "":
		ops = append(ops, Op{Kind: Bind, Source: l.Project, Target: l.Project, ReadOnly: l.ProjectRO})
	}
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		if src, ok := l.Etc[name]; ok {
			ops = append(ops, Op{Kind: Bind, Source: src, Target: "/etc/" + name, ReadOnly: true, Optional: l.Rootfs == "" && !l.RootCow})
		}
	}
	for _, m := range l.Mounts {
		if !path.IsAbs(m.Target) {
			return nil, fmt.Errorf("mount target %q is not an absolute path", m.Target)
		}
		ops = append(ops, Op{Kind: m.Kind, Source: m.Source, Target: path.Clean(m.Target), ReadOnly: m.ReadOnly, Mode: tmpfsMode(m.Kind)})
	}
	return ops, nil
}

func tmpfsMode(k Kind) string {
	if k == Tmpfs {
		return "0755"
	}
	return ""
}

func rootDir(l Layout) string {
	if l.Rootfs != "" {
		return l.Rootfs
	}
	return "/"
}

// topLevel lists the names of / to share: HostDirs for the host view;
// none for an image, which is the root overlay's lower layer.
func topLevel(l Layout) ([]string, error) {
	if l.Rootfs != "" {
		return nil, nil
	}
	names := make([]string, len(HostDirs))
	for i, d := range HostDirs {
		names[i] = strings.TrimPrefix(d, "/")
	}
	return names, nil
}
