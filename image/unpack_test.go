package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func archive(t *testing.T, es ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), ModTime: time.Unix(1e9, 0), Uid: os.Getuid(), Gid: os.Getgid()}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return b.Bytes()
}

func TestUnpackRefusesEscapes(t *testing.T) {
	outside := t.TempDir()
	dest := t.TempDir()
	data := archive(t,
		entry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "bin/sh", typ: tar.TypeReg, body: "#!", mode: 0o755},
		entry{name: "../evil", typ: tar.TypeReg, body: "x"},
		entry{name: "/abs", typ: tar.TypeReg, body: "x"},
		entry{name: "a/../../evil2", typ: tar.TypeReg, body: "x"},
		// A symlink out, then a write through it: lands inside.
		entry{name: "escape", typ: tar.TypeSymlink, link: outside},
		entry{name: "escape/pwned", typ: tar.TypeReg, body: "x"},
		entry{name: "hard", typ: tar.TypeLink, link: "bin/sh"},
		entry{name: "badhard", typ: tar.TypeLink, link: "../../etc/passwd"},
		entry{name: "dev/null", typ: tar.TypeChar},
	)
	st, err := Unpack(bytes.NewReader(data), dest, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if st.Unsafe != 5 || st.Devices != 1 || st.Files != 1 || st.Links != 1 || st.Symlinks != 1 {
		t.Fatalf("stats %+v", st)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote outside the root: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "evil")); err == nil {
		t.Fatal("../evil escaped")
	}
	// The write through the link to nowhere inside was refused.
	if _, err := os.Stat(filepath.Join(dest, outside, "pwned")); err == nil {
		t.Fatal("a write through the symlink created its target")
	}
	if fi, err := os.Stat(filepath.Join(dest, "bin/sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/sh: %v %v", fi, err)
	}
}

func TestUnpackCorrupt(t *testing.T) {
	data := archive(t, entry{name: "f", typ: tar.TypeReg, body: strings.Repeat("x", 10000)})
	_, err := Unpack(bytes.NewReader(data[:2000]), t.TempDir(), 1<<20)
	if err == nil || !strings.Contains(err.Error(), "corrupt or truncated archive") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecompress(t *testing.T) {
	data := archive(t, entry{name: "f", typ: tar.TypeReg, body: "hello"})
	var gz, zs bytes.Buffer
	g := gzip.NewWriter(&gz)
	g.Write(data)
	g.Close()
	z, _ := zstd.NewWriter(&zs)
	z.Write(data)
	z.Close()
	for name, in := range map[string][]byte{"plain": data, "gzip": gz.Bytes(), "zstd": zs.Bytes()} {
		r, done, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatal(name, err)
		}
		dest := t.TempDir()
		if _, err := Unpack(r, dest, 1<<20); err != nil {
			t.Fatal(name, err)
		}
		done()
		if b, _ := os.ReadFile(filepath.Join(dest, "f")); string(b) != "hello" {
			t.Fatalf("%s: f = %q", name, b)
		}
	}
}

func TestTarDirRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a/b"), 0o755)
	os.WriteFile(filepath.Join(src, "a/b/f"), []byte("data"), 0o640)
	os.Symlink("b/f", filepath.Join(src, "a/l"))
	pr, pw := io.Pipe()
	go TarDir(src, pw)
	dest := t.TempDir()
	if _, err := Unpack(pr, dest, 1<<20); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a/l")); string(b) != "data" {
		t.Fatalf("a/l -> %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dest, "a/b/f")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
