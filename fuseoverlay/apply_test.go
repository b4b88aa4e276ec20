package fuseoverlay

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mk(t, lower, "mod", "gone", "conflict", "dir/old")
	mk(t, upper, "mod", "new", ".wh.gone", "conflict", "dir/.wh..wh..opq", "dir/fresh", "add/deep/f")
	os.Chmod(filepath.Join(upper, "new"), 0o750)
	os.Symlink("mod", filepath.Join(upper, "link"))
	since := time.Now().Add(-time.Hour)
	old := since.Add(-time.Hour)
	for _, f := range []string{"mod", "gone", "dir/old"} {
		os.Chtimes(filepath.Join(lower, f), old, old)
	}
	cs, err := Changes(upper, lower)
	if err != nil {
		t.Fatal(err)
	}
	// "conflict" was modified on the host after the sandbox started.
	_, err = Apply(upper, lower, cs, ApplyOptions{Since: since})
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Paths) != 1 || ce.Paths[0] != "conflict" {
		t.Fatalf("want a conflict on 'conflict', got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "mod")); string(b) != "mod" {
		t.Fatal("a refused apply changed the host")
	}
	dry, err := Apply(upper, lower, cs, ApplyOptions{Since: since, Force: true, DryRun: true})
	if err != nil || len(dry) != len(cs) {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	if _, err := os.Stat(filepath.Join(lower, "new")); err == nil {
		t.Fatal("a dry run wrote")
	}
	done, err := Apply(upper, lower, cs, ApplyOptions{Since: since, Force: true})
	if err != nil || len(done) != len(cs) {
		t.Fatalf("apply: %d of %d, %v", len(done), len(cs), err)
	}
	for f, want := range map[string]string{"mod": "mod", "new": "new", "dir/fresh": "dir/fresh", "add/deep/f": "add/deep/f"} {
		if b, err := os.ReadFile(filepath.Join(lower, f)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", f, b, err)
		}
	}
	for _, f := range []string{"gone", "dir/old"} {
		if _, err := os.Lstat(filepath.Join(lower, f)); err == nil {
			t.Errorf("%s not deleted", f)
		}
	}
	if fi, _ := os.Stat(filepath.Join(lower, "new")); fi.Mode().Perm() != 0o750 {
		t.Errorf("mode of new: %v", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(lower, "link")); l != "mod" {
		t.Errorf("link -> %q", l)
	}
	// Applied paths left the upper layer: nothing remains to diff.
	if rest, _ := Changes(upper, lower); len(rest) != 0 {
		t.Fatalf("still in the upper layer: %v", rest)
	}
	if left, _ := filepath.Glob(filepath.Join(lower, ".burrow-apply-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
