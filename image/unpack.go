package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Stats counts what an import did.
type Stats struct {
	Files, Dirs, Links, Symlinks int64
	Bytes                        int64
	// Devices are device nodes skipped; Unsafe entries refused because
	// their names leave the root; Unowned owners outside the mapped IDs
	// (given to 0 instead).
	Devices, Unsafe, Unowned int64
}

// Decompress detects gzip and zstd by their magic numbers.
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return z, func() { z.Close() }, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return z, z.Close, nil
	}
	return br, func() {}, nil
}

// Unpack extracts a tar stream into the directory dest, which must exist
// and be empty. maxID is the highest mapped ID: owners above it are
// replaced by 0 and counted.
func Unpack(r io.Reader, dest string, maxID int) (Stats, error) {
	var st Stats
	root, err := unix.Open(dest, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(root)
	tr := tar.NewReader(r)
	var dirs []*tar.Header
	for n := 1; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("corrupt or truncated archive at entry %d: %w", n, err)
		}
		name, ok := clean(h.Name)
		if !ok {
			st.Unsafe++
			continue
		}
		if name == "." {
			dirs = append(dirs, h)
			continue
		}
		if err := extract(root, name, h, tr, &st, maxID); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return st, fmt.Errorf("corrupt or truncated archive at entry %d (%s): %w", n, h.Name, err)
			}
			return st, fmt.Errorf("%s: %w", h.Name, err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs = append(dirs, h)
		}
	}
	// Directory modes and times last: a read-only directory must not
	// stop its own entries, and writing entries changes the mtime.
	for i := len(dirs) - 1; i >= 0; i-- {
		h := dirs[i]
		name, _ := clean(h.Name)
		fd, err := openIn(root, name, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		_ = unix.Fchmodat(root, procPath(fd), uint32(h.Mode&0o7777), 0)
		ts := []unix.Timespec{unix.NsecToTimespec(h.ModTime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
		_ = unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), ts, 0)
		unix.Close(fd)
	}
	return st, nil
}

func procPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// clean makes an entry name relative to the root; ok is false for names
// that climb out of it ("../x", "a/../../x") or are absolute.
func clean(name string) (string, bool) {
	if strings.HasPrefix(name, "/") {
		return "", false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", false
		}
	}
	c := path.Clean(name)
	if c == "" {
		c = "."
	}
	return c, true
}

func openIn(root int, name string, flags uint64) (int, error) {
	return openat2(root, name, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// parentOf opens the directory that will hold name, creating missing
// directories; symlinks on the way resolve inside the root.
func parentOf(root int, name string) (int, string, error) {
	dir, base := path.Split(name)
	cur := "."
	fd, err := openIn(root, cur, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, "", err
	}
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		nfd, err := openIn(root, next, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, part, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				nfd, err = openIn(root, next, unix.O_PATH|unix.O_DIRECTORY)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, "", err
		}
		fd, cur = nfd, next
	}
	return fd, base, nil
}

func extract(root int, name string, h *tar.Header, r io.Reader, st *Stats, maxID int) error {
	uid, gid := h.Uid, h.Gid
	if uid < 0 || uid > maxID || gid < 0 || gid > maxID {
		st.Unowned++
		uid, gid = 0, 0
	}
	if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
		st.Devices++
		return nil
	}
	dir, base, err := parentOf(root, name)
	if err != nil {
		// Through a symlink the archive made to a place that does not
		// exist inside the root: refuse rather than create it.
		if throughSymlink(root, name) {
			st.Unsafe++
			return nil
		}
		return err
	}
	defer unix.Close(dir)
	mode := uint32(h.Mode & 0o7777)
	// An existing entry of another type is replaced; a directory stays.
	if h.Typeflag != tar.TypeDir {
		if err := unix.Unlinkat(dir, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			if errors.Is(err, unix.EISDIR) {
				if err := removeAllAt(root, name); err != nil {
					return err
				}
			} else {
				return err
			}
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(dir, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		st.Dirs++
	case tar.TypeReg:
		fd, err := unix.Openat(dir, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		n, err := io.Copy(f, r)
		st.Bytes += n
		if err == nil {
			// chown before chmod: chown clears the set-user-ID bit.
			if err = f.Chown(uid, gid); err == nil {
				err = f.Chmod(os.FileMode(mode) | setBits(mode))
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		st.Files++
		setTimes(dir, base, h)
		return nil
	case tar.TypeSymlink:
		if err := unix.Symlinkat(h.Linkname, dir, base); err != nil {
			return err
		}
		st.Symlinks++
		_ = unix.Fchownat(dir, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	case tar.TypeLink:
		target, ok := clean(h.Linkname)
		if !ok {
			st.Unsafe++
			return nil
		}
		tfd, err := openIn(root, target, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return fmt.Errorf("hard link to %s: %w", h.Linkname, err)
		}
		defer unix.Close(tfd)
		if err := unix.Linkat(unix.AT_FDCWD, procPath(tfd), dir, base, unix.AT_SYMLINK_FOLLOW); err != nil {
			return err
		}
		st.Links++
		return nil
	case tar.TypeFifo:
		if err := unix.Mknodat(dir, base, unix.S_IFIFO|mode, 0); err != nil {
			return err
		}
		st.Files++
	default:
		return nil // pax headers, GNU volume labels: nothing to create
	}
	_ = unix.Fchownat(dir, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// throughSymlink reports whether a parent of name is a symlink.
func throughSymlink(root int, name string) bool {
	parent := path.Dir(name)
	if parent == "." {
		return false
	}
	fd, err := openat2(root, parent, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH})
	if err == nil {
		unix.Close(fd)
		return false
	}
	return errors.Is(err, unix.ELOOP)
}

// setBits carries set-user-ID, set-group-ID and sticky over to os.FileMode.
func setBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

func setTimes(dir int, base string, h *tar.Header) {
	ts := []unix.Timespec{unix.NsecToTimespec(h.ModTime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	_ = unix.UtimesNanoAt(dir, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// removeAllAt removes name (resolved inside root) and what it holds.
func removeAllAt(root int, name string) error {
	fd, err := openIn(root, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	p, err := os.Readlink(procPath(fd))
	unix.Close(fd)
	if err != nil {
		return err
	}
	return os.RemoveAll(p)
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
