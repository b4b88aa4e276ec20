package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// Manager is a --cgroups value.
type Manager string

// The managers. Cgroupfs writes the limits itself into the caller's own
// cgroup, when that is a delegated subtree (a container with a cgroup
// namespace, a systemd-run --user -p Delegate=yes shell).
const (
	Auto     Manager = "auto"
	Systemd  Manager = "systemd"
	Cgroupfs Manager = "cgroupfs"
	None     Manager = "none"
)

// ParseManager checks a --cgroups value.
func ParseManager(s string) (Manager, error) {
	switch m := Manager(s); m {
	case Auto, Systemd, Cgroupfs, None:
		return m, nil
	}
	return "", fmt.Errorf("--cgroups %q: want auto, systemd, cgroupfs or none", s)
}

// Env is what Plan looks at; SystemEnv reads the real one.
type Env struct {
	Root       string // the cgroup file system, /sys/fs/cgroup
	UID        int
	User       string
	RuntimeDir string // $XDG_RUNTIME_DIR
	BusAddress string // $DBUS_SESSION_BUS_ADDRESS
}

// SystemEnv describes this machine and caller.
func SystemEnv(user string) Env {
	return Env{Root: "/sys/fs/cgroup", UID: os.Getuid(), User: user,
		RuntimeDir: os.Getenv("XDG_RUNTIME_DIR"), BusAddress: os.Getenv("DBUS_SESSION_BUS_ADDRESS")}
}

// Decision is how a sandbox gets its cgroup.
type Decision struct {
	Manager Manager
	Bus     string // the user bus address (Systemd)
	Dir     string // the delegated cgroup (Cgroupfs)
	Root    string
	Reason  string // why Auto chose None
}

// Plan decides, and refuses with the cause and its fix when limits are
// asked for and cannot be enforced.
func Plan(m Manager, l Limits, e Env) (Decision, error) {
	d := Decision{Manager: None, Root: e.Root}
	if m == None {
		if !l.Empty() {
			return d, errors.New("--cgroups=none runs without a cgroup, so the limits cannot be enforced; drop them, or use --cgroups=auto")
		}
		return d, nil
	}
	why := func(err error) (Decision, error) {
		switch {
		case l.Empty() && m == Auto:
			d.Reason = err.Error()
			return d, nil
		case l.Empty():
			return d, fmt.Errorf("--cgroups=%s: %w", m, err)
		}
		return d, fmt.Errorf("cannot enforce %s: %w", describe(l), err)
	}
	if m == Cgroupfs {
		dir, err := planCgroupfs(l, e)
		if err != nil {
			if l.Empty() {
				return d, fmt.Errorf("--cgroups=cgroupfs: %w", err)
			}
			return d, fmt.Errorf("cannot enforce %s: %w", describe(l), err)
		}
		d.Manager, d.Dir = Cgroupfs, dir
		return d, nil
	}
	if !isCgroup2(e.Root) {
		if m == Auto {
			// A delegated subtree of our own (a container) still works.
			if dir, err := planCgroupfs(l, e); err == nil {
				d.Manager, d.Dir = Cgroupfs, dir
				return d, nil
			}
		}
		return why(fmt.Errorf("%s is not a cgroup v2 (unified) hierarchy, and rootless limits need one; boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line", e.Root))
	}
	bus := e.BusAddress
	if bus == "" {
		p := filepath.Join(e.RuntimeDir, "bus")
		if e.RuntimeDir == "" || !exists(p) {
			if m == Auto {
				if dir, err := planCgroupfs(l, e); err == nil {
					d.Manager, d.Dir = Cgroupfs, dir
					return d, nil
				}
			}
			return why(fmt.Errorf("no systemd user manager: the user bus ($XDG_RUNTIME_DIR/bus) is missing; start one with: sudo loginctl enable-linger %s (or log in for a real session)", e.User))
		}
		bus = "unix:path=" + p
	}
	if missing := undelegated(e, l.Controllers()); len(missing) > 0 {
		return d, fmt.Errorf("cannot enforce %s: the %s controller%s not delegated to your systemd user manager; as root, create /etc/systemd/system/user@.service.d/delegate.conf with [Service] Delegate=cpu cpuset io memory pids, then: sudo systemctl daemon-reload and log in again",
			describe(l), strings.Join(missing, ", "), plural(len(missing), " is", "s are"))
	}
	d.Manager, d.Bus = Systemd, bus
	return d, nil
}

// undelegated lists the needed controllers the user manager's cgroup
// does not offer. Unknown when the manager's cgroup cannot be read.
func undelegated(e Env, need []string) []string {
	p := filepath.Join(e.Root, "user.slice", fmt.Sprintf("user-%d.slice", e.UID), fmt.Sprintf("user@%d.service", e.UID), "cgroup.controllers")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	have := strings.Fields(string(b))
	var missing []string
	for _, c := range need {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}

func describe(l Limits) string {
	var parts []string
	if l.MemoryMax > 0 {
		parts = append(parts, "--memory "+Human(l.MemoryMax))
	}
	if l.MemoryHigh > 0 {
		parts = append(parts, "--memory-high "+Human(l.MemoryHigh))
	}
	if l.CPUs > 0 {
		parts = append(parts, "--cpus "+strconv.FormatFloat(l.CPUs, 'f', -1, 64))
	}
	if l.Pids > 0 {
		parts = append(parts, "--pids "+strconv.FormatInt(l.Pids, 10))
	}
	if l.CPUWeight > 0 {
		parts = append(parts, "--cpu-weight "+strconv.FormatUint(l.CPUWeight, 10))
	}
	if l.IOWeight > 0 {
		parts = append(parts, "--io-weight "+strconv.FormatUint(l.IOWeight, 10))
	}
	return strings.Join(parts, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func isCgroup2(root string) bool {
	var st unix.Statfs_t
	return unix.Statfs(root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// Scope is a sandbox's transient systemd scope.
type Scope struct {
	Name string
	Path string // its cgroup, under Root
	root string
	max  int64
}

// StartScope asks the user manager for a scope holding pid, with the
// limits, and waits for the job's result.
func StartScope(ctx context.Context, d Decision, name, desc string, pid int, l Limits) (*Scope, error) {
	conn, err := sd.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(d.Bus)
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("connect to the systemd user manager at %s: %w", d.Bus, err)
	}
	defer conn.Close()
	ch := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, name, "fail", Properties(desc, pid, l), ch); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && strings.Contains(de.Name, "InvalidArgs") {
			return nil, fmt.Errorf("systemd refused the scope %s: %v (a systemd too old for one of the limits?)", name, err)
		}
		return nil, fmt.Errorf("systemd refused the scope %s: %w", name, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return nil, fmt.Errorf("systemd could not start the scope %s: job %s", name, res)
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("systemd did not start the scope %s within 30s", name)
	}
	s := &Scope{Name: name, root: d.Root, max: l.MemoryMax}
	if v, err := conn.GetUnitTypePropertyContext(ctx, name, "Scope", "ControlGroup"); err == nil {
		s.Path, _ = v.Value.Value().(string)
	}
	return s, nil
}

// Where names the scope for people: a systemd unit by its name, a
// cgroupfs leaf by its directory.
func (s *Scope) Where() string {
	if s == nil {
		return ""
	}
	if s.root != "" {
		return s.Name
	}
	return s.Path
}

// OOMKills reads how many processes the kernel killed for memory in the
// scope (memory.events, oom_kill). Read it before the scope is gone: a
// systemd scope goes as soon as its last process has, so the sandbox's
// pid 1 reads it too, from inside, before it exits (OOMKillsIn).
func (s *Scope) OOMKills() int {
	if s == nil || s.Path == "" {
		return 0
	}
	return OOMKillsIn(filepath.Join(s.root, s.Path))
}

// OOMKillsIn reads oom_kill from the memory.events of the cgroup dir.
func OOMKillsIn(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "memory.events"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// OOMMessage is the line burrow prints after an OOM kill.
func (s *Scope) OOMMessage() string {
	if s.max > 0 {
		return fmt.Sprintf("out of memory (limit %s)", Human(s.max))
	}
	return "out of memory"
}
