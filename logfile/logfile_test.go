package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func collect(t *testing.T, path string, o ReadOptions) []Record {
	t.Helper()
	var out []Record
	if err := Read(path, o, func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func texts(rs []Record) string {
	var b strings.Builder
	for _, r := range rs {
		tag := ""
		if r.Partial {
			tag = "+"
		}
		fmt.Fprintf(&b, "%s:%s%s|", r.Stream, r.Text, tag)
	}
	return b.String()
}

func TestCopyLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := Create(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxLine+5)
	if err := w.Copy("stdout", strings.NewReader("one\ntwo  spaces\n\n"+long+"\nlast")); err != nil {
		t.Fatal(err)
	}
	if err := w.Line("stderr", "err line"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got := texts(collect(t, path, ReadOptions{}))
	want := "stdout:one|stdout:two  spaces|stdout:|stdout:" + long[:MaxLine] + "+|stdout:xxxxx|stdout:last+|stderr:err line|"
	if got != want {
		t.Errorf("got  %.200q\nwant %.200q", got, want)
	}
	if got := texts(collect(t, path, ReadOptions{Tail: 2})); got != "stdout:last+|stderr:err line|" {
		t.Errorf("tail 2: %q", got)
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := Create(path, 200)
	for i := 0; i < 20; i++ {
		if err := w.Line("stdout", fmt.Sprintf("line %02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, p := range []string{path, path + ".1"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 200 {
			t.Errorf("%s is %d bytes, over the cap of 200", p, fi.Size())
		}
	}
	rs := collect(t, path, ReadOptions{})
	if len(rs) == 0 || len(rs) >= 20 || rs[len(rs)-1].Text != "line 19" {
		t.Fatalf("after rotation: %s", texts(rs))
	}
	for i := 1; i < len(rs); i++ {
		if rs[i].Text <= rs[i-1].Text {
			t.Errorf("out of order: %s", texts(rs))
		}
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := Create(path, 150)
	_ = w.Line("stdout", "before")
	var done atomic.Bool
	seen := make(chan Record)
	end := make(chan error)
	go func() {
		end <- Read(path, ReadOptions{Follow: true, Done: done.Load, Poll: time.Millisecond}, func(r Record) error {
			seen <- r
			return nil
		})
	}()
	if r := <-seen; r.Text != "before" {
		t.Fatalf("first record %q", r.Text)
	}
	// Each line waits until the reader has it: the file rotates every
	// third line, and every record must come through once, in order.
	for i := 0; i < 30; i++ {
		want := fmt.Sprintf("n%02d", i)
		_ = w.Line("stdout", want)
		if r := <-seen; r.Text != want {
			t.Fatalf("followed %q, want %q", r.Text, want)
		}
	}
	w.Close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatal("the log never rotated:", err)
	}
	done.Store(true)
	if err := <-end; err != nil {
		t.Fatal(err)
	}
}

func TestSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, _ := Create(path, 0)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	w.now = func() time.Time { n++; return base.Add(time.Duration(n) * time.Second) }
	for _, s := range []string{"a", "b", "c"} {
		_ = w.Line("stdout", s)
	}
	w.Close()
	if got := texts(collect(t, path, ReadOptions{Since: base.Add(2 * time.Second)})); got != "stdout:b|stdout:c|" {
		t.Errorf("since: %q", got)
	}
	if _, err := Parse("nonsense"); err == nil {
		t.Error("Parse accepted a line without fields")
	}
}
