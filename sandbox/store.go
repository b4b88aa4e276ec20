package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Store keeps sandboxes' state: $XDG_DATA_HOME/burrow/sandboxes/NAME,
// the per-user analogue of /var/lib/docker. Each sandbox directory holds
// state.json, a lock file that its running burrow holds (flock), and the
// upper, work and stage directories of its overlays.
type Store struct {
	Dir string // $XDG_DATA_HOME/burrow
}

// ErrNoSandbox means a named sandbox does not exist.
var ErrNoSandbox = errors.New("no such sandbox")

// State is a sandbox's state.json.
type State struct {
	Name    string    `json:"name"`
	Named   bool      `json:"named"`
	Created time.Time `json:"created"`
	// Project is the project directory of the runs, and ProjectMode how
	// they shared it (rw, ro, cow); Root is ro or cow; Rootfs the image.
	Project     string `json:"project,omitempty"`
	ProjectMode string `json:"project_mode,omitempty"`
	Root        string `json:"root,omitempty"`
	Rootfs      string `json:"rootfs,omitempty"`
	Image       string `json:"image,omitempty"`
	// Layers maps an overlay's key to its lower directory and target.
	Layers map[string]LayerInfo `json:"layers,omitempty"`

	// The last run: its command, how it ran, and how it ended. Status
	// is created, running or exited as its keeper (the burrow holding
	// the lock) last wrote it; Store.Load tells a keeper that died.
	Command  []string  `json:"command,omitempty"`
	Detached bool      `json:"detached,omitempty"`
	TTY      bool      `json:"tty,omitempty"`
	Status   string    `json:"status,omitempty"`
	Pid      int       `json:"pid,omitempty"`
	Keeper   int       `json:"keeper_pid,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	ExitCode *int      `json:"exit_code,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Control and Attach are the sockets of a running sandbox: pid 1's
	// (exec, stop, kill) and the keeper's pty (attach).
	Control string   `json:"control,omitempty"`
	Attach  string   `json:"attach,omitempty"`
	Network string   `json:"network,omitempty"`
	Ports   []string `json:"ports,omitempty"`
	Cgroup  string   `json:"cgroup,omitempty"`
	// Mounts is the file system of the last run, as built.
	Mounts []Op `json:"mounts,omitempty"`
}

// Sandbox statuses.
const (
	Created = "created"
	Running = "running"
	Exited  = "exited"
)

// Current is the status of a sandbox whose lock is or is not held. A
// sandbox that says running with nobody holding its lock lost its keeper
// (SIGKILL, a crash): it is exited, with an unknown status; lost says so.
func (st State) Current(locked bool) (status string, lost bool) {
	switch {
	case locked && st.Status == Exited:
		return Created, false // being started again
	case locked:
		return st.Status, false
	case st.Status == Running:
		return Exited, true
	case st.Status == "":
		return Created, false
	}
	return st.Status, false
}

// LayerInfo describes one overlay of a sandbox.
type LayerInfo struct {
	Lower  string `json:"lower"`
	Target string `json:"target"`
}

// Sandbox is an open sandbox directory, locked by this process. New says
// that Open made it (it had no state.json).
type Sandbox struct {
	Dir   string
	State State
	New   bool
	lock  *os.File
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// ValidName checks a --name.
func ValidName(n string) error {
	if !validName.MatchString(n) {
		return fmt.Errorf("sandbox name %q: want 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", n)
	}
	return nil
}

func (s Store) sandboxes() string { return filepath.Join(s.Dir, "sandboxes") }

// Open creates or continues a sandbox and locks it. name "" makes an
// unnamed one, discarded by Close. A named sandbox that another burrow
// holds is refused.
func (s Store) Open(name string) (*Sandbox, error) {
	named := name != ""
	if !named {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name = "run-" + hex.EncodeToString(b)
	} else if err := ValidName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.sandboxes(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox state: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox state: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("sandbox %s is running; wait for it to end, or pick another --name", name)
	}
	sb := &Sandbox{Dir: dir, lock: lock, New: true, State: State{Name: name, Named: named, Created: time.Now().UTC(), Layers: map[string]LayerInfo{}}}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		sb.New = false
		if err := json.Unmarshal(b, &sb.State); err != nil {
			sb.Release()
			return nil, fmt.Errorf("sandbox %s: state.json is damaged (%v); burrow rm %s", name, err, name)
		}
		if sb.State.Layers == nil {
			sb.State.Layers = map[string]LayerInfo{}
		}
	}
	return sb, nil
}

// Adopt takes over a sandbox whose lock file the caller inherited, locked
// (burrow start and run -d hand it to the keeper they start).
func (s Store) Adopt(name string, lock *os.File) (*Sandbox, error) {
	dir := filepath.Join(s.sandboxes(), name)
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, fmt.Errorf("sandbox %s: the inherited lock is not held: %v", name, err)
	}
	sb := &Sandbox{Dir: dir, lock: lock}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &sb.State); err != nil {
		return nil, fmt.Errorf("sandbox %s: state.json is damaged: %v", name, err)
	}
	if sb.State.Layers == nil {
		sb.State.Layers = map[string]LayerInfo{}
	}
	return sb, nil
}

// LockFile is the open, locked lock file, for a keeper to inherit.
func (sb *Sandbox) LockFile() *os.File { return sb.lock }

// Layer returns the upper, work and stage directories of an overlay,
// creating them; the stage is where fuse-overlayfs mounts first.
func (sb *Sandbox) Layer(key, lower, target string) (upper, work, stage string, err error) {
	upper = filepath.Join(sb.Dir, "upper", key)
	work = filepath.Join(sb.Dir, "work", key)
	stage = filepath.Join(sb.Dir, "stage", key)
	for _, d := range []string{upper, work, stage} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", "", fmt.Errorf("sandbox state: %w", err)
		}
	}
	sb.State.Layers[key] = LayerInfo{Lower: lower, Target: target}
	return upper, work, stage, nil
}

// Save writes state.json (atomically: a killed burrow leaves the old or
// the new one).
func (sb *Sandbox) Save() error {
	b, err := json.MarshalIndent(sb.State, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(sb.Dir, "state.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(sb.Dir, "state.json"))
}

// Release unlocks the sandbox.
func (sb *Sandbox) Release() {
	if sb.lock != nil {
		sb.lock.Close()
		sb.lock = nil
	}
}

// Load reads a sandbox's state without locking it; running reports
// whether a burrow holds it.
func (s Store) Load(name string) (st State, dir string, running bool, err error) {
	dir = filepath.Join(s.sandboxes(), name)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return st, dir, false, fmt.Errorf("%w %q (burrow run --name %s creates it)", ErrNoSandbox, name, name)
	}
	if err != nil {
		return st, dir, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, dir, false, fmt.Errorf("sandbox %s: state.json is damaged: %v", name, err)
	}
	return st, dir, isLocked(filepath.Join(dir, "lock")), nil
}

// Names lists the sandboxes, sorted.
func (s Store) Names() []string {
	entries, _ := os.ReadDir(s.sandboxes())
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Stale lists the directories of unnamed sandboxes whose burrow is gone
// (killed before it could clean up).
func (s Store) Stale() []string {
	var out []string
	for _, n := range s.Names() {
		if !strings.HasPrefix(n, "run-") {
			continue
		}
		dir := filepath.Join(s.sandboxes(), n)
		if !isLocked(filepath.Join(dir, "lock")) {
			out = append(out, dir)
		}
	}
	return out
}

// isLocked: some process holds the lock of a sandbox.
func isLocked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// RemoveTree deletes a state directory the fast way, on the host; it
// fails on files owned by subordinate IDs, which need RemoveAsRoot.
func RemoveTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// WaitUnlocked waits up to d for the burrow holding a sandbox to let go of
// it, and reports whether it did.
func (s Store) WaitUnlocked(name string, d time.Duration) bool {
	lock := filepath.Join(s.sandboxes(), name, "lock")
	deadline := time.Now().Add(d)
	for isLocked(lock) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
