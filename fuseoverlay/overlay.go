package fuseoverlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Driver names an overlay implementation.
type Driver string

// The drivers, and Auto to choose by probing.
const (
	Auto   Driver = "auto"
	Native Driver = "native"
	Fuse   Driver = "fuse"
)

// ParseDriver checks a --cow-driver value.
func ParseDriver(s string) (Driver, error) {
	switch d := Driver(s); d {
	case Auto, Native, Fuse:
		return d, nil
	}
	return "", fmt.Errorf("unknown copy-on-write driver %q (want auto, native or fuse)", s)
}

// ErrUnsupported means no driver can mount an overlay here.
var ErrUnsupported = errors.New("copy-on-write is not available")

// Layers are the directories of one overlay.
type Layers struct {
	Lower []string // read-only, top first
	Upper string   // writable; receives every change
	Work  string   // overlayfs scratch, same file system as Upper
	// SquashToRoot shows every file as owned by 0:0 (fuse only). Host
	// directories hold files of host root, an ID the user namespace does
	// not map: they would show as nobody and stay read-only inside.
	SquashToRoot bool
}

// escape protects the characters overlayfs splits its options on.
func escape(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
}

// nativeOptions are the fsconfig(2) options of a native overlay.
// userxattr keeps overlay metadata in user.overlay.* xattrs, which an
// unprivileged mounter may write (Linux 5.11, commit 2d2f2d7322ff).
func nativeOptions(l Layers) [][2]string {
	lower := make([]string, len(l.Lower))
	for i, d := range l.Lower {
		lower[i] = escape(d)
	}
	return [][2]string{
		{"source", "burrow"},
		{"lowerdir", strings.Join(lower, ":")},
		{"upperdir", l.Upper},
		{"workdir", l.Work},
		{"userxattr", ""},
	}
}

// MountNative creates a detached native overlay and returns its mount fd,
// for move_mount(2). It must run with CAP_SYS_ADMIN in the user namespace
// that owns the current mount namespace.
func MountNative(l Layers) (int, error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	for _, o := range nativeOptions(l) {
		if o[1] == "" {
			err = unix.FsconfigSetFlag(fsfd, o[0])
		} else {
			err = unix.FsconfigSetString(fsfd, o[0], o[1])
		}
		if err != nil {
			return -1, fmt.Errorf("overlay option %s: %w%s", o[0], err, kernelLog(fsfd))
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("overlay: %w%s", err, kernelLog(fsfd))
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("fsmount overlay: %w", err)
	}
	return fd, nil
}

// kernelLog reads the messages the kernel left on an fs context (the
// real reason of an EINVAL, e.g. "failed to clone lowerpath").
func kernelLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// FuseArgs is the fuse-overlayfs command line for l on target.
func FuseArgs(l Layers, target string) ([]string, error) {
	for _, p := range append(append([]string{}, l.Lower...), l.Upper, l.Work, target) {
		if strings.ContainsAny(p, ",:") {
			return nil, fmt.Errorf("fuse-overlayfs cannot take the path %q: it contains a comma or a colon", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(l.Lower, ":"), l.Upper, l.Work)
	if l.SquashToRoot {
		opts = "squash_to_root," + opts
	}
	return []string{"-o", opts, target}, nil
}

// MountFuse mounts l on target with fuse-overlayfs. The program mounts,
// then leaves a daemon behind that serves the file system; the daemon
// lives in the sandbox's pid namespace and ends with it.
func MountFuse(l Layers, target string) error {
	prog, err := lookPath("fuse-overlayfs")
	if err != nil {
		return err
	}
	args, err := FuseArgs(l, target)
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("fuse-overlayfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// lookPath finds a program in the standard directories: the sandbox's
// stages run with an empty environment.
func lookPath(prog string) (string, error) {
	for _, d := range []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(d, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install it (sudo apt-get install fuse-overlayfs)", prog)
}

// Probe tries a native overlay with its upper directory under scratch
// (so on the file system that will hold real upper layers): nil means
// the native driver works. Run it where the sandbox mounts.
func Probe(scratch string) error {
	dir, err := os.MkdirTemp(scratch, "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l := Layers{Lower: []string{filepath.Join(dir, "lower")}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}
	for _, d := range []string{l.Lower[0], l.Upper, l.Work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	fd, err := MountNative(l)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// FuseUsable says why fuse-overlayfs cannot work here, or nil.
func FuseUsable() error {
	if _, err := lookPath("fuse-overlayfs"); err != nil {
		return err
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("/dev/fuse: %v (distributions ship it 0666: sudo chmod 0666 /dev/fuse)", errors.Unwrap(err))
	}
	f.Close()
	return nil
}
