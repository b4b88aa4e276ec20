package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ownCgroup is the directory of this process's cgroup v2 in the
// hierarchy under root (unified), or under root/unified (hybrid).
func ownCgroup(root string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			for _, r := range []string{root, filepath.Join(root, "unified")} {
				if isCgroup2(r) {
					return filepath.Join(r, p), nil
				}
			}
		}
	}
	return "", errors.New("this process is in no cgroup v2 hierarchy")
}

// planCgroupfs checks that the caller's own cgroup is a delegated,
// writable subtree that offers the controllers the limits need.
func planCgroupfs(l Limits, e Env) (string, error) {
	dir, err := ownCgroup(e.Root)
	if err != nil {
		return "", err
	}
	for _, f := range []string{"", "cgroup.procs", "cgroup.subtree_control"} {
		if unix.Access(filepath.Join(dir, f), unix.W_OK) != nil {
			return "", fmt.Errorf("your cgroup %s is not delegated to you (not writable); run burrow in one that is, e.g.: systemd-run --user -p Delegate=yes --scope burrow run COMMAND", dir)
		}
	}
	have, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	var missing []string
	for _, c := range l.Controllers() {
		if !slices.Contains(strings.Fields(string(have)), c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("the %s controller%s not available in your cgroup %s; delegate %s to it (for a systemd-run shell: -p Delegate=yes)",
			strings.Join(missing, ", "), plural(len(missing), " is", "s are"), dir, plural(len(missing), "it", "them"))
	}
	return dir, nil
}

// StartLeaf makes a cgroup for the sandbox under the delegated dir,
// writes the limits and moves pid into it. cgroup v2 allows controllers
// to be enabled for children only in a cgroup without processes of its
// own ("no internal processes"), so the processes of dir itself (burrow,
// the shell that started it) first move to a leaf of their own, as crun
// does in containers.
func StartLeaf(dir, name string, pid int, l Limits) (*Scope, error) {
	if ctrls := l.Controllers(); len(ctrls) > 0 {
		enable := "+" + strings.Join(ctrls, " +")
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
			if !errors.Is(err, unix.EBUSY) {
				return nil, fmt.Errorf("enable %s in %s: %w", enable, dir, err)
			}
			if err := evacuate(dir); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(enable), 0); err != nil {
				return nil, fmt.Errorf("enable %s in %s: %w", enable, dir, err)
			}
		}
	}
	leaf := filepath.Join(dir, name)
	err := os.Mkdir(leaf, 0o755)
	if errors.Is(err, os.ErrExist) {
		// Left by a killed burrow of the same name: empty, so removable
		// (rmdir fails on a cgroup that still has processes).
		if err = removeCgroup(leaf); err == nil {
			err = os.Mkdir(leaf, 0o755)
		}
	}
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("the cgroup %s is in use by another sandbox of that name (of another XDG_DATA_HOME?); pick another --name", leaf)
	}
	if err != nil {
		return nil, fmt.Errorf("create the cgroup %s: %w", leaf, err)
	}
	s := &Scope{Name: name, Path: leaf, max: l.MemoryMax}
	fail := func(err error) (*Scope, error) {
		_ = os.Remove(leaf)
		return nil, err
	}
	for file, v := range leafValues(l) {
		if err := os.WriteFile(filepath.Join(leaf, file), []byte(v), 0); err != nil {
			return fail(fmt.Errorf("set %s in %s: %w", file, leaf, err))
		}
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fail(fmt.Errorf("move the sandbox into %s: %w", leaf, err))
	}
	return s, nil
}

// leafValues are the interface files of the limits.
func leafValues(l Limits) map[string]string {
	v := map[string]string{}
	if l.MemoryMax > 0 {
		v["memory.max"] = strconv.FormatInt(l.MemoryMax, 10)
	}
	if l.MemoryHigh > 0 {
		v["memory.high"] = strconv.FormatInt(l.MemoryHigh, 10)
	}
	if l.CPUs > 0 {
		v["cpu.max"] = fmt.Sprintf("%d 100000", int64(l.CPUs*100000))
	}
	if l.Pids > 0 {
		v["pids.max"] = strconv.FormatInt(l.Pids, 10)
	}
	if l.CPUWeight > 0 {
		v["cpu.weight"] = strconv.FormatUint(l.CPUWeight, 10)
	}
	if l.IOWeight > 0 {
		v["io.weight"] = "default " + strconv.FormatUint(l.IOWeight, 10)
	}
	return v
}

// evacuate moves every process of dir into dir/burrow-host.
func evacuate(dir string) error {
	host := filepath.Join(dir, "burrow-host")
	if err := os.Mkdir(host, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", host, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	for _, p := range strings.Fields(string(b)) {
		if err := os.WriteFile(filepath.Join(host, "cgroup.procs"), []byte(p), 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("move process %s to %s: %w", p, host, err)
		}
	}
	return nil
}

// Remove deletes a leaf made by StartLeaf. The kernel may still count
// the sandbox's last tasks for a moment after pid 1 was reaped (rmdir
// then fails with EBUSY): try for up to a second.
func (s *Scope) Remove() {
	if s == nil || s.root != "" || s.Path == "" {
		return
	}
	for i := 0; i < 100; i++ {
		if err := removeCgroup(s.Path); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeCgroup removes a cgroup and the sub-cgroups the sandbox made in
// it (its tree is delegated), deepest first: rmdir is the only way to
// remove a cgroup, and it fails while one has children.
func removeCgroup(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return os.Remove(dir)
}

// SweepLeaves removes the cgroups of unnamed sandboxes (burrow-run-PID)
// whose burrow, process PID, is gone: killed before it could remove its
// own. A leaf of a burrow that still runs is never touched, even in the
// moment between its creation and the move of its sandbox into it.
func SweepLeaves(e Env) {
	dir, err := ownCgroup(e.Root)
	if err != nil {
		return
	}
	leaves, _ := filepath.Glob(filepath.Join(dir, "burrow-run-*"))
	for _, l := range leaves {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(l), "burrow-run-"))
		if err != nil || pid <= 0 {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			_ = removeCgroup(l) // fails, harmlessly, if it still has processes
		}
	}
}
