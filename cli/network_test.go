package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSweepNetDirs(t *testing.T) {
	rt := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	mine := filepath.Join(rt, fmt.Sprintf("net-%d-aa", os.Getpid()))
	gone := filepath.Join(rt, fmt.Sprintf("net-%d-bb", dead.Process.Pid))
	old := filepath.Join(rt, "net-0123456789ab")
	other := filepath.Join(rt, "cow-probe")
	for _, d := range []string{mine, gone, old, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sweepNetDirs(rt)
	for d, want := range map[string]bool{mine: true, gone: false, old: false, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
