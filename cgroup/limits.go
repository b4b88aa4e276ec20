package cgroup

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// Limits are a sandbox's resource limits; zero means unset.
type Limits struct {
	MemoryMax  int64   // bytes: hard limit, OOM kill above (MemoryMax)
	MemoryHigh int64   // bytes: throttled above (MemoryHigh)
	CPUs       float64 // CPU time per second, 1.0 = one CPU (CPUQuota)
	Pids       int64   // tasks (TasksMax)
	CPUWeight  uint64  // 1-10000 (CPUWeight)
	IOWeight   uint64  // 1-10000 (IOWeight)
}

// Empty reports whether no limit is set.
func (l Limits) Empty() bool { return l == Limits{} }

// Controllers are the cgroup controllers the limits need delegated.
func (l Limits) Controllers() []string {
	var c []string
	if l.MemoryMax > 0 || l.MemoryHigh > 0 {
		c = append(c, "memory")
	}
	if l.CPUs > 0 || l.CPUWeight > 0 {
		c = append(c, "cpu")
	}
	if l.IOWeight > 0 {
		c = append(c, "io")
	}
	if l.Pids > 0 {
		c = append(c, "pids")
	}
	return c
}

// ParseSize reads a memory size: bytes, or a number with K, M, G or T
// (powers of 1024, as systemd and docker read them), e.g. 512M, 1.5G.
func ParseSize(flag, s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("%s %q: %s; write a size such as 512M or 2G", flag, s, why)
	}
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad("not a size")
	}
	n := v * mult
	if n <= 0 {
		return bad("it must be more than zero")
	}
	if n < 1<<20 {
		return bad("below 1M no program can run")
	}
	if n > math.MaxInt64/2 {
		return bad("too large")
	}
	return int64(n), nil
}

// Human prints a size the way ParseSize reads it.
func Human(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// Check validates the numbers that are not sizes.
func (l Limits) Check() error {
	if l.CPUs < 0 || l.CPUs > 0 && l.CPUs < 0.01 {
		return fmt.Errorf("--cpus %v: want 0.01 or more (1.0 is one CPU)", l.CPUs)
	}
	if l.Pids < 0 {
		return fmt.Errorf("--pids %d: want 1 or more", l.Pids)
	}
	for _, w := range []struct {
		flag string
		v    uint64
	}{{"--cpu-weight", l.CPUWeight}, {"--io-weight", l.IOWeight}} {
		if w.v > 10000 {
			return fmt.Errorf("%s %d: want 1 to 10000 (100 is the default share)", w.flag, w.v)
		}
	}
	if l.MemoryHigh > 0 && l.MemoryMax > 0 && l.MemoryHigh > l.MemoryMax {
		return fmt.Errorf("--memory-high %s is above --memory %s: the hard limit would hit first", Human(l.MemoryHigh), Human(l.MemoryMax))
	}
	return nil
}

// Properties are the StartTransientUnit properties of a sandbox's scope:
// its pid 1, delegation of the subtree (so that the sandbox's own cgroup
// tree is writable), a description, and one property per limit. The CPU
// limit goes as CPUQuotaPerSecUSec (microseconds per second), the name
// the D-Bus API knows CPUQuota= by.
func Properties(desc string, pid int, l Limits) []sd.Property {
	props := []sd.Property{
		sd.PropPids(uint32(pid)),
		sd.PropDescription(desc),
		{Name: "Delegate", Value: dbus.MakeVariant(true)},
		// A failed scope is removed too, not kept for inspection.
		{Name: "CollectMode", Value: dbus.MakeVariant("inactive-or-failed")},
	}
	add := func(name string, v uint64) {
		props = append(props, sd.Property{Name: name, Value: dbus.MakeVariant(v)})
	}
	if l.MemoryMax > 0 {
		add("MemoryMax", uint64(l.MemoryMax))
	}
	if l.MemoryHigh > 0 {
		add("MemoryHigh", uint64(l.MemoryHigh))
	}
	if l.CPUs > 0 {
		add("CPUQuotaPerSecUSec", uint64(l.CPUs*1e6))
	}
	if l.Pids > 0 {
		add("TasksMax", uint64(l.Pids))
	}
	if l.CPUWeight > 0 {
		add("CPUWeight", l.CPUWeight)
	}
	if l.IOWeight > 0 {
		add("IOWeight", l.IOWeight)
	}
	return props
}
