package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512M": 512 << 20, "2G": 2 << 30, "1.5G": 3 << 29, "1048576": 1 << 20, "64m": 64 << 20, "1Gi": 1 << 30, "2GB": 2 << 30, "1T": 1 << 40,
	} {
		if got, err := ParseSize("--memory", in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for in, why := range map[string]string{"0": "more than zero", "-1G": "more than zero", "lots": "not a size", "1K": "below 1M", "": "not a size", "NaN": "not a size"} {
		if _, err := ParseSize("--memory", in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: err = %v, want %q", in, err, why)
		}
	}
	if Human(512<<20) != "512M" || Human(3<<29) != "1536M" || Human(2<<30) != "2G" {
		t.Fatal("Human")
	}
}

func TestPropertiesAndControllers(t *testing.T) {
	l := Limits{MemoryMax: 512 << 20, CPUs: 0.5, Pids: 50, IOWeight: 200}
	got := map[string]any{}
	for _, p := range Properties("burrow sandbox x: make", 4242, l) {
		got[p.Name] = p.Value.Value()
	}
	for name, want := range map[string]any{
		"Delegate": true, "MemoryMax": uint64(512 << 20), "CPUQuotaPerSecUSec": uint64(500000),
		"TasksMax": uint64(50), "IOWeight": uint64(200), "Description": "burrow sandbox x: make",
		"CollectMode": "inactive-or-failed",
	} {
		if got[name] != want {
			t.Errorf("%s = %#v, want %#v", name, got[name], want)
		}
	}
	if pids, ok := got["PIDs"].([]uint32); !ok || len(pids) != 1 || pids[0] != 4242 {
		t.Errorf("PIDs = %#v", got["PIDs"])
	}
	if _, ok := got["MemoryHigh"]; ok {
		t.Error("an unset limit was sent")
	}
	if c := strings.Join(l.Controllers(), ","); c != "memory,cpu,io,pids" {
		t.Errorf("controllers %s", c)
	}
	if err := (Limits{MemoryMax: 1 << 30, MemoryHigh: 2 << 30}).Check(); err == nil {
		t.Error("memory-high above memory accepted")
	}
}

func TestPlanRefusals(t *testing.T) {
	mem := Limits{MemoryMax: 1 << 30}
	// This file system is not cgroup2: the hybrid/v1 refusal.
	e := Env{Root: t.TempDir(), UID: 1000, User: "alice"}
	if _, err := Plan(Auto, mem, e); err == nil || !strings.Contains(err.Error(), "systemd.unified_cgroup_hierarchy=1") {
		t.Fatalf("v1: %v", err)
	}
	// Without limits, auto quietly runs without a scope and says why.
	d, err := Plan(Auto, Limits{}, e)
	if err != nil || d.Manager != None || d.Reason == "" {
		t.Fatalf("auto without limits: %+v %v", d, err)
	}
	if _, err := Plan(Systemd, Limits{}, e); err == nil || !strings.HasPrefix(err.Error(), "--cgroups=systemd: ") {
		t.Fatalf("systemd without limits: %v", err)
	}
	if _, err := Plan(None, mem, e); err == nil || !strings.Contains(err.Error(), "--cgroups=none") {
		t.Fatalf("none with limits: %v", err)
	}
	if d, err := Plan(None, Limits{}, e); err != nil || d.Manager != None {
		t.Fatalf("none: %+v %v", d, err)
	}
	if _, err := ParseManager("cgroupv1"); err == nil {
		t.Fatal("ParseManager(cgroupv1)")
	}
}

func TestLeafValues(t *testing.T) {
	v := leafValues(Limits{MemoryMax: 64 << 20, MemoryHigh: 32 << 20, CPUs: 0.5, Pids: 20, CPUWeight: 50, IOWeight: 300})
	want := map[string]string{"memory.max": "67108864", "memory.high": "33554432", "cpu.max": "50000 100000",
		"pids.max": "20", "cpu.weight": "50", "io.weight": "default 300"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q", k, v[k], w)
		}
	}
}

func TestUndelegated(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "user.slice", "user-1000.slice", "user@1000.service")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
	got := undelegated(Env{Root: root, UID: 1000}, []string{"memory", "io", "pids"})
	if strings.Join(got, ",") != "io" {
		t.Fatalf("undelegated = %v", got)
	}
	if got := undelegated(Env{Root: root, UID: 1001}, []string{"memory"}); got != nil {
		t.Fatalf("unreadable manager cgroup must not refuse: %v", got)
	}
}
