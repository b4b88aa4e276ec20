package fuseoverlay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func render(cs []Change) string {
	var b []string
	for _, c := range cs {
		s := string(c.Kind) + " " + c.Path
		if c.Dir {
			s += "/"
		}
		b = append(b, s)
	}
	return strings.Join(b, "\n")
}

func mk(t *testing.T, root string, files ...string) {
	for _, f := range files {
		p := filepath.Join(root, f)
		if strings.HasSuffix(f, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Upper directories as fuse-overlayfs writes them without mknod: .wh.
// files and the .wh..wh..opq marker. (The kernel's 0/0 devices and
// user.overlay.opaque xattrs are covered by the end-to-end tests, which
// run the real drivers.)
func TestChangesFuseMarkers(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mk(t, lower, "keep", "mod", "gone", "dir/a", "dir/b", "repl/x", "repl/y", "sub/deep/z")
	mk(t, upper, "mod", "new", ".wh.gone", "dir/c", ".wh..wh..opq/", "repl/.wh..wh..opq", "repl/y", "sub/deep/.wh.z", "newdir/f")
	os.Remove(filepath.Join(upper, ".wh..wh..opq")) // only in repl/
	cs, err := Changes(upper, lower)
	if err != nil {
		t.Fatal(err)
	}
	want := `A dir/c
D gone
M mod
A new
A newdir/
A newdir/f
D repl/x
A repl/y
D sub/deep/z`
	if got := render(cs); got != want {
		t.Fatalf("changes:\n%s\nwant:\n%s", got, want)
	}
}

func TestChangesXattrOpaque(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mk(t, lower, "d/old")
	mk(t, upper, "d/new")
	if err := unix.Setxattr(filepath.Join(upper, "d"), "user.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("no user xattrs on %s: %v", upper, err)
	}
	cs, err := Changes(upper, lower)
	if err != nil {
		t.Fatal(err)
	}
	if got := render(cs); got != "A d/new\nD d/old" {
		t.Fatalf("changes:\n%s", got)
	}
}

func TestFuseArgsAndEscape(t *testing.T) {
	args, err := FuseArgs(Layers{Lower: []string{"/l1", "/l2"}, Upper: "/u", Work: "/w"}, "/t")
	if err != nil || strings.Join(args, " ") != "-o lowerdir=/l1:/l2,upperdir=/u,workdir=/w /t" {
		t.Fatalf("%v %v", args, err)
	}
	if _, err := FuseArgs(Layers{Lower: []string{"/a,b"}, Upper: "/u", Work: "/w"}, "/t"); err == nil {
		t.Fatal("comma accepted")
	}
	if e := escape(`/a:b,c\d`); e != `/a\:b\,c\\d` {
		t.Fatalf("escape = %s", e)
	}
	if _, err := ParseDriver("zfs"); err == nil {
		t.Fatal("ParseDriver(zfs)")
	}
}
