package userns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNoHelper means newuidmap or newgidmap is missing or cannot raise its
// privileges (not setuid root and no file capability).
var ErrNoHelper = errors.New("ID mapping helper unusable")

// Mode chooses how IDs are mapped.
type Mode string

const (
	// Auto maps the subordinate ranges when they and the helpers exist,
	// and the caller alone otherwise.
	Auto Mode = "auto"
	// Full requires the subordinate ranges; it is an error without them.
	Full Mode = "full"
	// Single maps only the caller, to 0. It needs no helper: an
	// unprivileged process may write a one-line map of its own IDs
	// (user_namespaces(7), "Defining user and group ID mappings").
	Single Mode = "single"
)

// ParseMode checks a --map value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Auto, Full, Single:
		return m, nil
	}
	return "", fmt.Errorf("unknown ID map mode %q (want auto, full or single)", s)
}

// Caller identifies the user whose IDs are mapped.
type Caller struct {
	Name     string
	UID, GID uint32
}

// Files are the inputs of a Plan; tests point them elsewhere.
type Files struct {
	SubUID, SubGID string
	// LookPath finds a helper; exec.LookPath when nil.
	LookPath func(string) (string, error)
}

// System is the real machine's configuration.
var System = Files{SubUID: "/etc/subuid", SubGID: "/etc/subgid"}

// Plan is what the parent writes into the child's uid_map and gid_map.
type Plan struct {
	Mode       Mode // Full or Single: what was chosen
	UIDs, GIDs []Mapping
	// Helpers are the paths of newuidmap and newgidmap (Full only).
	NewUIDMap, NewGIDMap string
	// Reason says why Auto chose Single; empty otherwise.
	Reason string
}

// MakePlan decides the ID mapping for the caller.
func MakePlan(mode Mode, c Caller, f Files) (Plan, error) {
	single := Plan{
		Mode: Single,
		UIDs: []Mapping{{0, c.UID, 1}},
		GIDs: []Mapping{{0, c.GID, 1}},
	}
	if mode == Single {
		return single, nil
	}
	full, err := fullPlan(c, f)
	if err == nil {
		return full, nil
	}
	if mode == Full {
		return Plan{}, err
	}
	single.Reason = err.Error()
	return single, nil
}

func fullPlan(c Caller, f Files) (Plan, error) {
	lookPath := f.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	uids, err := ReadSubIDs(f.SubUID, c.Name, c.UID)
	if err != nil {
		return Plan{}, err
	}
	gids, err := ReadSubIDs(f.SubGID, c.Name, c.GID)
	if err != nil {
		return Plan{}, err
	}
	fix := fmt.Sprintf("run: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s", c.Name)
	if len(uids) == 0 {
		return Plan{}, fmt.Errorf("%w: user %s has no entry in %s; %s", ErrNoSubIDs, c.Name, f.SubUID, fix)
	}
	if len(gids) == 0 {
		return Plan{}, fmt.Errorf("%w: user %s has no entry in %s; %s", ErrNoSubIDs, c.Name, f.SubGID, fix)
	}
	p := Plan{Mode: Full, UIDs: BuildMap(c.UID, uids), GIDs: BuildMap(c.GID, gids)}
	if p.NewUIDMap, err = findHelper("newuidmap", lookPath); err != nil {
		return Plan{}, err
	}
	if p.NewGIDMap, err = findHelper("newgidmap", lookPath); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// findHelper locates a helper and checks that it can gain the privilege it
// needs: setuid root (Debian) or the cap_setuid/cap_setgid file capability
// (Fedora). Without either it fails with EPERM at the first use, which
// would be a confusing error much later.
func findHelper(name string, lookPath func(string) (string, error)) (string, error) {
	p, err := lookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %s not found in $PATH; install it: sudo apt-get install uidmap (or dnf install shadow-utils)", ErrNoHelper, name)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoHelper, err)
	}
	if st.Mode()&os.ModeSetuid != 0 {
		return p, nil
	}
	if sz, err := unix.Getxattr(p, "security.capability", nil); err == nil && sz > 0 {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s is neither setuid nor has file capabilities; fix: sudo chmod u+s %s", ErrNoHelper, p, p)
}

// Apply writes the plan's maps for process pid, which must be a child in a
// new user namespace that is not mapped yet. Full runs both helpers at once;
// Single writes the files itself, denying setgroups first as the kernel
// requires of an unprivileged writer of gid_map (since Linux 3.19, commit
// 9cc46516ddf4, CVE-2014-8989).
func (p Plan) Apply(pid int) error {
	if p.Mode == Single {
		dir := fmt.Sprintf("/proc/%d/", pid)
		for _, w := range []struct{ file, text string }{
			{"uid_map", p.UIDs[0].String()},
			{"setgroups", "deny"},
			{"gid_map", p.GIDs[0].String()},
		} {
			if err := os.WriteFile(dir+w.file, []byte(w.text+"\n"), 0); err != nil {
				return fmt.Errorf("write %s: %w", w.file, err)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	run := func(i int, helper string, maps []Mapping) {
		defer wg.Done()
		cmd := exec.Command(helper, HelperArgs(pid, maps)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			errs[i] = fmt.Errorf("%s %s: %v: %s", helper, strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(out.String()))
		}
	}
	wg.Add(2)
	go run(0, p.NewUIDMap, p.UIDs)
	go run(1, p.NewGIDMap, p.GIDs)
	wg.Wait()
	return errors.Join(errs...)
}
