package fuseoverlay

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Since is when the sandbox started using the lower directory: a
	// host file modified later conflicts with the sandbox's version.
	Since  time.Time
	Force  bool // overwrite conflicting host files
	DryRun bool // change nothing, report what would happen
}

// ConflictError names the host files that changed since Since.
type ConflictError struct {
	Paths []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("changed on the host since the sandbox started using them: %s; keep yours and leave them out, or pass --force to overwrite them", strings.Join(e.Paths, ", "))
}

// Apply copies changes from upper onto lower, the host directory the
// overlay covered: each file is written to a temporary file in its own
// directory and renamed over the old one, so that an interrupted Apply
// leaves every file either old or new; deletions are applied; modes and
// symlinks kept. Applied paths are then dropped from upper, so that the
// sandbox sees the host's (now equal) version. It returns what it
// applied (or, with DryRun, would apply).
func Apply(upper, lower string, cs []Change, o ApplyOptions) ([]Change, error) {
	var conflicts []string
	for _, c := range cs {
		if c.Dir && c.Kind != Deleted {
			continue
		}
		fi, err := os.Lstat(filepath.Join(lower, c.Path))
		if err == nil && !fi.IsDir() && fi.ModTime().After(o.Since) {
			conflicts = append(conflicts, c.Path)
		}
	}
	if len(conflicts) > 0 && !o.Force {
		return nil, &ConflictError{Paths: conflicts}
	}
	if o.DryRun {
		return cs, nil
	}
	var done []Change
	for _, c := range cs {
		host := filepath.Join(lower, c.Path)
		src := filepath.Join(upper, c.Path)
		var err error
		switch {
		case c.Kind == Deleted:
			err = os.RemoveAll(host)
		case c.Dir:
			var fi os.FileInfo
			if fi, err = os.Lstat(src); err == nil {
				if err = os.MkdirAll(host, fi.Mode().Perm()); err == nil {
					err = os.Chmod(host, fi.Mode().Perm())
				}
			}
		default:
			err = replace(src, host)
		}
		if err != nil {
			return done, fmt.Errorf("apply %s: %w", c.Path, err)
		}
		done = append(done, c)
	}
	drop(upper, done)
	return done, nil
}

// replace puts a copy of src (a file or a symlink) at dst atomically.
func replace(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tmp := filepath.Join(filepath.Dir(dst), ".burrow-apply-"+hex.EncodeToString(b))
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, tmp); err != nil {
			return err
		}
		return renameOrClean(tmp, dst)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file or a symlink (%s)", fi.Mode().Type())
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return renameOrClean(tmp, dst)
}

func renameOrClean(tmp, dst string) error {
	// A directory in the way (a directory replaced by a file) goes first.
	if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
		if err := os.RemoveAll(dst); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// drop removes applied entries from the upper directory: files and
// whiteouts (both spellings), then directories that became empty,
// deepest first.
func drop(upper string, done []Change) {
	var dirs []string
	for _, c := range done {
		p := filepath.Join(upper, c.Path)
		if c.Dir && c.Kind != Deleted {
			dirs = append(dirs, p)
			continue
		}
		_ = os.Remove(p)
		_ = os.Remove(filepath.Join(filepath.Dir(p), whPrefix+filepath.Base(p)))
		dirs = append(dirs, filepath.Dir(p))
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
next:
	for _, d := range dirs {
		for d != upper && strings.HasPrefix(d, upper+"/") {
			entries, err := os.ReadDir(d)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				break
			}
			for _, e := range entries {
				if e.Name() != opqMarker && e.Name() != opqDevice {
					continue next
				}
			}
			// Empty but for the opaque markers: nothing left to hide.
			_ = os.Remove(filepath.Join(d, opqMarker))
			_ = os.Remove(filepath.Join(d, opqDevice))
			_ = os.Remove(d)
			d = filepath.Dir(d)
		}
	}
}
