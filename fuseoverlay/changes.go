package fuseoverlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Kind of a change, as docker diff and git status --short spell it.
type Kind string

// Added, Modified, Deleted.
const (
	Added    Kind = "A"
	Modified Kind = "M"
	Deleted  Kind = "D"
)

// Change is one path that differs between the overlay and its lower.
type Change struct {
	Kind Kind   `json:"kind"`
	Path string `json:"path"` // relative to the overlay's root, slash-separated
	Dir  bool   `json:"dir,omitempty"`
}

// Marker files of fuse-overlayfs (it also writes 0/0 character devices
// and xattrs, like the kernel; older versions and file systems without
// mknod get these files instead).
const (
	whPrefix  = ".wh."
	opqMarker = ".wh..wh..opq"
	opqDevice = ".wh..opq"
)

// IsWhiteout reports whether fi is a whiteout: a 0/0 character device.
func IsWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// IsOpaque reports whether the upper directory dir hides its lower
// counterpart completely (it was deleted and created again).
func IsOpaque(dir string) bool {
	for _, x := range []string{"user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"} {
		buf := make([]byte, 4)
		if n, err := unix.Lgetxattr(dir, x, buf); err == nil && n > 0 && buf[0] == 'y' {
			return true
		}
	}
	_, err := os.Lstat(filepath.Join(dir, opqMarker))
	return err == nil
}

// Changes walks an upper directory against its lower and returns what
// changed, sorted by path. A path under a deleted or replaced directory
// is reported as that directory's children.
func Changes(upper, lower string) ([]Change, error) {
	var out []Change
	err := walk(upper, lower, "", &out)
	// By path; where a path is both deleted and added (a directory
	// replaced by a file), the deletion first.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Kind == Deleted && out[j].Kind != Deleted
	})
	return out, err
}

func walk(upper, lower, rel string, out *[]Change) error {
	entries, err := os.ReadDir(filepath.Join(upper, rel))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if name == opqMarker || name == opqDevice {
			continue
		}
		if strings.HasPrefix(name, whPrefix) {
			gone := strings.TrimPrefix(name, whPrefix)
			seen[gone] = true
			*out = append(*out, Change{Kind: Deleted, Path: join(rel, gone), Dir: isDir(filepath.Join(lower, rel, gone))})
			continue
		}
		seen[name] = true
		p := join(rel, name)
		fi, err := e.Info()
		if err != nil {
			return err
		}
		lowerPath := filepath.Join(lower, rel, name)
		lfi, lerr := os.Lstat(lowerPath)
		inLower := lerr == nil
		switch {
		case IsWhiteout(fi):
			if inLower {
				*out = append(*out, Change{Kind: Deleted, Path: p, Dir: lfi.IsDir()})
			}
		case fi.IsDir():
			switch {
			case !inLower || !lfi.IsDir():
				if inLower {
					*out = append(*out, Change{Kind: Deleted, Path: p})
				}
				if err := added(upper, p, out); err != nil {
					return err
				}
			case IsOpaque(filepath.Join(upper, p)):
				// Replaced: everything of the lower directory is gone,
				// everything in the upper one is new.
				if err := deletedAll(lower, upper, p, out); err != nil {
					return err
				}
				if err := added(upper, p, out); err != nil {
					return err
				}
				*out = slicesDeleteDir(*out, p)
			default:
				if err := walk(upper, lower, p, out); err != nil {
					return err
				}
			}
		default:
			kind := Added
			if inLower {
				kind = Modified
				if lfi.IsDir() {
					*out = append(*out, Change{Kind: Deleted, Path: p, Dir: true})
					kind = Added
				}
			}
			*out = append(*out, Change{Kind: kind, Path: p})
		}
	}
	return nil
}

// added reports a new directory and everything below it.
func added(upper, rel string, out *[]Change) error {
	*out = append(*out, Change{Kind: Added, Path: rel, Dir: true})
	return filepath.WalkDir(filepath.Join(upper, rel), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(upper, path)
		r = filepath.ToSlash(r)
		if r == rel || d.Name() == opqMarker || d.Name() == opqDevice || strings.HasPrefix(d.Name(), whPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && IsWhiteout(fi) {
			return nil
		}
		*out = append(*out, Change{Kind: Added, Path: r, Dir: d.IsDir()})
		return nil
	})
}

// deletedAll reports every lower entry of a replaced directory that the
// new directory does not have again.
func deletedAll(lower, upper, rel string, out *[]Change) error {
	root := filepath.Join(lower, rel)
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		r, _ := filepath.Rel(lower, path)
		r = filepath.ToSlash(r)
		if r == rel {
			return nil
		}
		if _, err := os.Lstat(filepath.Join(upper, r)); err == nil {
			return nil // there again: reported as added
		}
		*out = append(*out, Change{Kind: Deleted, Path: r, Dir: d.IsDir()})
		return nil
	})
}

// slicesDeleteDir drops the "A dir" that added() reported for a replaced
// directory: the directory itself is not new, only its contents are.
func slicesDeleteDir(cs []Change, dir string) []Change {
	for i, c := range cs {
		if c.Path == dir && c.Kind == Added && c.Dir {
			return append(cs[:i], cs[i+1:]...)
		}
	}
	return cs
}

func join(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}
