package cli

import (
	"fmt"
	"strings"

	"github.com/burrow-sandbox/burrow/cgroup"
	"github.com/burrow-sandbox/burrow/config"
	"github.com/burrow-sandbox/burrow/sandbox"
)

// limitsFrom reads the merged limits, checking every value.
func limitsFrom(e *config.Effective) (cgroup.Limits, cgroup.Manager, error) {
	var l cgroup.Limits
	var err error
	size := func(v config.Value[string], flag, key string) (int64, error) {
		if v.V == "" {
			return 0, nil
		}
		what := flag
		if v.From.Kind != "flag" {
			what = fmt.Sprintf("%s (%s)", key, v.From)
		}
		return cgroup.ParseSize(what, v.V)
	}
	if l.MemoryMax, err = size(e.Memory, "--memory", "limits.memory"); err != nil {
		return l, "", err
	}
	if l.MemoryHigh, err = size(e.MemoryHigh, "--memory-high", "limits.memory_high"); err != nil {
		return l, "", err
	}
	if e.CPUs.From.Kind != "" {
		if e.CPUs.V <= 0 {
			return l, "", fmt.Errorf("--cpus %v: want 0.01 or more (1.0 is one CPU)", e.CPUs.V)
		}
		l.CPUs = e.CPUs.V
	}
	if e.Pids.From.Kind != "" {
		if e.Pids.V < 1 {
			return l, "", fmt.Errorf("--pids %d: want 1 or more", e.Pids.V)
		}
		l.Pids = e.Pids.V
	}
	for _, w := range []struct {
		v    config.Value[int64]
		flag string
		dst  *uint64
	}{{e.CPUWeight, "--cpu-weight", &l.CPUWeight}, {e.IOWeight, "--io-weight", &l.IOWeight}} {
		if w.v.From.Kind != "" {
			if w.v.V < 1 || w.v.V > 10000 {
				return l, "", fmt.Errorf("%s %d: want 1 to 10000 (100 is the default share)", w.flag, w.v.V)
			}
			*w.dst = uint64(w.v.V)
		}
	}
	if err := l.Check(); err != nil {
		return l, "", err
	}
	m := e.Cgroups.V
	if m == "" {
		m = "auto"
	}
	mgr, err := cgroup.ParseManager(m)
	return l, mgr, err
}

// cgroupPlan decides the sandbox's cgroup; it refuses limits that cannot
// be enforced.
func cgroupPlan(l cgroup.Limits, mgr cgroup.Manager, h hostInfo, name string, args []string) (*sandbox.CgroupPlan, []string, error) {
	env := cgroup.SystemEnv(h.Caller.Name)
	cgroup.SweepLeaves(env)
	d, err := cgroup.Plan(mgr, l, env)
	if err != nil {
		return nil, nil, err
	}
	notes := []string{fmt.Sprintf("cgroup manager %s", d.Manager)}
	if d.Dir != "" {
		notes[0] = fmt.Sprintf("cgroup manager %s in %s", d.Manager, d.Dir)
	}
	if d.Reason != "" {
		notes = append(notes, "no cgroup scope: "+d.Reason)
	}
	if d.Manager == cgroup.None {
		return nil, notes, nil
	}
	return &sandbox.CgroupPlan{Decision: d, Limits: l, Unit: "burrow-" + name + ".scope",
		About: "burrow sandbox " + name + ": " + strings.Join(args, " ")}, notes, nil
}
