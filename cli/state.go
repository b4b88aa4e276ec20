package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/userns"
)

// dataDir is $XDG_DATA_HOME/burrow, by default ~/.local/share/burrow.
func dataDir(home string) string {
	if x := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "burrow")
	}
	return filepath.Join(home, ".local", "share", "burrow")
}

// runtimeDir is $XDG_RUNTIME_DIR/burrow, or /tmp/burrow-UID without one
// (as podman does), for files that must not outlive a boot.
func runtimeDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		return filepath.Join(x, "burrow")
	}
	return filepath.Join(os.TempDir(), "burrow-"+strconv.Itoa(os.Getuid()))
}

// ensureRuntimeDir creates the runtime directory, private to the caller,
// and refuses one that someone else made first: a name under /tmp can
// be taken by any user (the classic /tmp squatting).
func ensureRuntimeDir() (string, error) {
	dir := runtimeDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("runtime directory %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("runtime directory %s is not a private directory of yours (owner uid %d, mode %v); remove it, or set XDG_RUNTIME_DIR", dir, st.Uid, fi.Mode().Perm())
	}
	return dir, nil
}

func storeFor(h hostInfo) sandbox.Store { return sandbox.Store{Dir: dataDir(h.Home)} }

// The native overlay probe is cached per kernel boot: its answer depends
// on the kernel and on the file system of the state directory.
func probeCache() string { return filepath.Join(runtimeDir(), "cow-probe") }

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

func cachedProbe(dir string) string {
	b, err := os.ReadFile(probeCache())
	if err != nil {
		return ""
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 3 || lines[0] != bootID() || lines[1] != dir {
		return ""
	}
	return strings.TrimSpace(lines[2])
}

func saveProbe(dir, result string) {
	if _, err := ensureRuntimeDir(); err != nil {
		return
	}
	tmp := probeCache() + ".tmp"
	if os.WriteFile(tmp, []byte(bootID()+"\n"+dir+"\n"+result+"\n"), 0o600) == nil {
		_ = os.Rename(tmp, probeCache())
	}
}

// removeState deletes sandbox directories: on the host when it can, else
// inside a user namespace with the same mapping, where files of
// subordinate IDs belong to us (podman unshare rm, in effect).
func removeState(dirs []string, h hostInfo, log *slog.Logger) error {
	var left []string
	for _, d := range dirs {
		if err := sandbox.RemoveTree(d); err != nil {
			left = append(left, d)
		}
	}
	if len(left) == 0 {
		return nil
	}
	plan, err := userns.MakePlan(userns.Auto, h.Caller, userns.System)
	if err != nil {
		return err
	}
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	_, err = sandbox.Run(&sandbox.Spec{Remove: left, Hostname: "burrow"}, sandbox.Options{
		Plan: plan, Log: log, ProcSys: "/proc/sys", Stdin: devnull, Stdout: devnull, Stderr: os.Stderr,
	})
	if err != nil {
		return fmt.Errorf("remove sandbox state %s: %w", strings.Join(left, ", "), err)
	}
	return nil
}

// sweep removes the state of unnamed sandboxes whose burrow was killed.
func sweep(h hostInfo, log *slog.Logger) {
	stale := storeFor(h).Stale()
	if len(stale) == 0 {
		return
	}
	log.Debug("removing state of ended sandboxes", "stage", "parent", "dirs", strings.Join(stale, " "))
	if err := removeState(stale, h, log); err != nil {
		log.Warn(err.Error())
	}
}
