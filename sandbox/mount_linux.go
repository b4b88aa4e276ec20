package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/burrow-sandbox/burrow/fuseoverlay"

	"golang.org/x/sys/unix"
)

// MountError names the step of the mount table that failed.
type MountError struct {
	Op   Op
	Step string
	Err  error
}

func (e *MountError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Op, e.Step, e.Err) }
func (e *MountError) Unwrap() error { return e.Err }

// newRootAt is where the new root tmpfs is mounted before pivot_root. The
// host's /tmp is hidden from then on, which is why every bind source is
// cloned (open_tree) before it is mounted.
const newRootAt = "/tmp"

// applyTable builds the sandbox's file system from ops and makes it the
// root. It must run in a new mount namespace with CAP_SYS_ADMIN in its
// user namespace. It uses the mount API of Linux 5.12 (open_tree,
// move_mount, fsopen, mount_setattr): every mount is created detached and
// attached through an fd resolved with RESOLVE_IN_ROOT, so no target can
// follow a symlink out of the new root (CVE-2021-30465), and read-only
// applies to a bind's whole subtree (AT_RECURSIVE) without the remount
// dance over locked flags that mount(2) needs.
func applyTable(ops []Op, uid, gid uint32, c *cow, log *slog.Logger) error {
	// Nothing we mount may propagate back to the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	clones := make([]int, len(ops))
	defer func() {
		for _, fd := range clones {
			if fd > 0 {
				unix.Close(fd)
			}
		}
	}()
	// Overlays are made in parallel: each fuse-overlayfs takes a few
	// milliseconds to start and serve, and they do not depend on each
	// other. The native probe runs first, once.
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	probed := false
	for i, op := range ops {
		switch op.Kind {
		case Bind:
			clones[i], errs[i] = cloneTree(op)
		case Overlay:
			if !probed && c.driver != fuseoverlay.Fuse {
				_ = c.nativeErr()
				probed = true
			}
			wg.Add(1)
			go func(i int, op Op) {
				defer wg.Done()
				fd, err := c.overlay(op)
				if err != nil && op.FallbackRO {
					c.notice(fmt.Sprintf("%s is read-only: no copy-on-write overlay (%v)", op.Target, err))
					fd, err = cloneTree(Op{Source: op.Source, ReadOnly: true})
				}
				clones[i], errs[i] = fd, err
			}(i, op)
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return &MountError{ops[i], "prepare", err}
		}
	}
	// The root is a tmpfs, or the overlay of an image.
	cowRoot := len(ops) > 0 && ops[0].Kind == Overlay && ops[0].Target == "/"
	var rootMnt int
	if cowRoot {
		rootMnt, clones[0], ops, clones = clones[0], 0, ops[1:], clones[1:]
	} else {
		var err error
		rootMnt, err = newFS("tmpfs", map[string]string{"mode": "0755"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err != nil {
			return fmt.Errorf("create root tmpfs: %w", err)
		}
	}
	defer unix.Close(rootMnt)
	if err := unix.MoveMount(rootMnt, "", unix.AT_FDCWD, newRootAt, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach the new root on %s: %w", newRootAt, err)
	}
	root, err := unix.Open(newRootAt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	defer unix.Close(root)
	for i, op := range ops {
		err := attach(root, op, clones[i], uid, gid)
		var skip *skipError
		if errors.As(err, &skip) {
			log.Debug("skipped optional mount", "op", op.String(), "reason", skip.err)
			continue
		}
		if err != nil {
			return err
		}
		log.Debug("mounted", "op", op.String())
	}
	// The root itself is read-only, as on a real system; the writable
	// places are the tmpfs mounts and read-write binds on top of it (or,
	// for an image, the root overlay's upper layer).
	if !cowRoot {
		ro := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(root, "", unix.AT_EMPTY_PATH, &ro); err != nil {
			return fmt.Errorf("make the new root read-only: %w", err)
		}
	}
	return pivot(root)
}

type skipError struct{ err error }

func (e *skipError) Error() string { return e.err.Error() }

// cloneTree makes a detached copy of a bind source with its submounts
// (AT_RECURSIVE: mounts under it are locked in our user namespace, so a
// non-recursive clone of such a tree fails) and sets its attributes.
func cloneTree(op Op) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, op.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return -1, err
	}
	var attr uint64 = unix.MOUNT_ATTR_NOSUID
	if !op.Dev {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if op.ReadOnly {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	ma := unix.MountAttr{Attr_set: attr}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &ma); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set attributes: %w", err)
	}
	return fd, nil
}

// newFS creates a detached mount of a new file system instance.
func newFS(fstype string, opts map[string]string, attrs int) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	// The source is what /proc/mounts and df show; fsopen leaves it "none".
	if err := unix.FsconfigSetString(fsfd, "source", fstype); err != nil {
		return -1, fmt.Errorf("%s option source: %w", fstype, err)
	}
	for k, v := range opts {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return -1, fmt.Errorf("%s option %s=%s: %w", fstype, k, v, err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create %s: %w", fstype, err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return fd, nil
}

func attach(root int, op Op, clone int, uid, gid uint32) error {
	fail := func(step string, err error) error {
		if op.Optional {
			return &skipError{fmt.Errorf("%s: %w", step, err)}
		}
		return &MountError{op, step, err}
	}
	if op.Kind == Mask || op.Kind == Protect {
		if err := hide(root, op); err != nil {
			return fail("hide", err)
		}
		return nil
	}
	if op.Kind == Symlink {
		dir, err := mkdirAll(root, path.Dir(op.Target))
		if err != nil {
			return fail("create parent", err)
		}
		defer unix.Close(dir)
		if err := unix.Symlinkat(op.Source, dir, path.Base(op.Target)); err != nil {
			return fail("symlink", err)
		}
		return nil
	}
	var mnt int
	switch op.Kind {
	case Bind, Overlay:
		mnt = clone
	case Tmpfs:
		opts := map[string]string{"mode": op.Mode}
		if op.Owned {
			opts["uid"] = strconv.FormatUint(uint64(uid), 10)
			opts["gid"] = strconv.FormatUint(uint64(gid), 10)
		}
		fd, err := newFS("tmpfs", opts, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err != nil {
			return fail("create", err)
		}
		defer unix.Close(fd)
		mnt = fd
	case Proc:
		fd, err := newFS("proc", nil, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
		if err != nil {
			return fail("create", err)
		}
		defer unix.Close(fd)
		mnt = fd
	case Sysfs:
		const attrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
		fd, err := newFS("sysfs", nil, attrs)
		if err != nil {
			// sysfs needs the net namespace to be ours and an
			// unobstructed sysfs in the mount namespace
			// (mount_too_revealing); else share the host's, read-only.
			fd, err = cloneTree(Op{Source: "/sys", ReadOnly: true})
		}
		if err != nil {
			return fail("create", err)
		}
		defer unix.Close(fd)
		mnt = fd
	case Devpts:
		fd, err := newFS("devpts", map[string]string{"ptmxmode": "0666", "mode": "0620"}, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
		if err != nil {
			return fail("create", err)
		}
		defer unix.Close(fd)
		mnt = fd
	default:
		return fail("unknown kind", errors.ErrUnsupported)
	}
	target, err := mountpoint(root, op, clone)
	if err != nil {
		return fail("create mount point", err)
	}
	defer unix.Close(target)
	if err := unix.MoveMount(mnt, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fail("attach", err)
	}
	return nil
}

// mountpoint opens (creating it if needed) the target of op inside root:
// a directory, or an empty file when a bind's source is not a directory.
func mountpoint(root int, op Op, clone int) (int, error) {
	isDir := true
	if op.Kind == Bind || op.Kind == Overlay {
		var st unix.Stat_t
		if err := unix.Fstat(clone, &st); err != nil {
			return -1, err
		}
		isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
	}
	if isDir {
		return mkdirAll(root, op.Target)
	}
	dir, err := mkdirAll(root, path.Dir(op.Target))
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	name := path.Base(op.Target)
	if fd, err := openIn(dir, name, unix.O_PATH); err == nil {
		return fd, nil
	}
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return -1, err
	}
	unix.Close(fd)
	return openIn(dir, name, unix.O_PATH)
}

// openIn opens name below dir without leaving the new root.
func openIn(dir int, name string, flags uint64) (int, error) {
	return openat2(dir, name, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// mkdirAll opens directory p of the new root, creating what is missing.
// Each component is resolved inside the root, so a symlink in an image
// cannot point a mount at the host.
func mkdirAll(root int, p string) (int, error) {
	fd, err := openIn(root, "/", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	cur := "/"
	for _, c := range strings.Split(strings.Trim(path.Clean(p), "/"), "/") {
		if c == "" {
			continue
		}
		next := path.Join(cur, c)
		nfd, err := openIn(root, next, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				nfd, err = openIn(root, next, unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("%s: %w", next, err)
		}
		fd, cur = nfd, next
	}
	return fd, nil
}

// pivot makes root the root of the mount namespace and drops the host's
// tree. pivot_root(".", ".") stacks the old root on top of the new one,
// where a lazy unmount removes it without a put_old directory: the trick
// runc uses (libcontainer/rootfs_linux.go, pivotRoot).
func pivot(root int) error {
	if err := unix.Fchdir(root); err != nil {
		return fmt.Errorf("enter new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// hide masks or protects a kernel path of the new root, then checks that
// what now sits there is what should: runc's masked paths could be
// redirected by swapping /dev/null for a symlink (CVE-2025-31133), so the
// /dev/null bound here is the host's, checked on the very mount that is
// attached, and the target is opened without following symlinks. A path
// this kernel lacks is skipped.
func hide(root int, op Op) error {
	target, err := openIn(root, op.Target, unix.O_PATH|unix.O_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return &skipError{err}
	}
	if err != nil {
		return err
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	const locked = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC
	var mnt int
	switch {
	case op.Kind == Protect:
		mnt, err = unix.OpenTree(target, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
		if err == nil {
			ma := unix.MountAttr{Attr_set: locked | unix.MOUNT_ATTR_NODEV}
			err = unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &ma)
		}
	case isDir:
		mnt, err = newFS("tmpfs", map[string]string{"mode": "0555"}, locked|unix.MOUNT_ATTR_NODEV)
	default:
		mnt, err = unix.OpenTree(unix.AT_FDCWD, "/dev/null", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err == nil {
			if err = isDevNull(mnt); err == nil {
				ma := unix.MountAttr{Attr_set: locked}
				err = unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH, &ma)
			}
		}
	}
	if err != nil {
		if mnt > 0 {
			unix.Close(mnt)
		}
		return err
	}
	defer unix.Close(mnt)
	if err := unix.MoveMount(mnt, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return err
	}
	return checkHidden(root, op, isDir)
}

// checkHidden opens the path again and checks what is mounted there.
func checkHidden(root int, op Op, isDir bool) error {
	fd, err := openIn(root, op.Target, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	switch {
	case op.Kind == Protect:
		if sfs.Flags&unix.ST_RDONLY == 0 {
			return errors.New("check: still writable after the read-only bind")
		}
	case isDir:
		if sfs.Type != unix.TMPFS_MAGIC || sfs.Flags&unix.ST_RDONLY == 0 {
			return errors.New("check: not covered by an empty read-only tmpfs")
		}
	default:
		return isDevNull(fd)
	}
	return nil
}

// isDevNull checks that fd is the character device 1:3.
func isDevNull(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("the mask is not /dev/null (mode %o, device %d:%d)", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}

// openat2 retries EAGAIN: under RESOLVE_IN_ROOT or RESOLVE_BENEATH the
// kernel fails a ".." lookup that raced with a rename or a mount anywhere
// on the system (openat2(2)), which happens on a busy machine.
func openat2(dir int, name string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dir, name, how)
		if err != unix.EAGAIN || i == 1000 {
			return fd, err
		}
	}
}
