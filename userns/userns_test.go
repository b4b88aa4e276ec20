package userns

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	in := `# comment
alice:100000:65536
bob:165536:65536

1000:300000:10
alice:400000:5
`
	got, err := ParseSubIDs(strings.NewReader(in), "subuid", "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{100000, 65536}, {300000, 10}, {400000, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got, err = ParseSubIDs(strings.NewReader(in), "subuid", "carol", 1001)
	if err != nil || len(got) != 0 {
		t.Fatalf("carol: %v %v", got, err)
	}
}

func TestParseSubIDsErrors(t *testing.T) {
	for _, in := range []string{
		"alice:100000\n",
		"alice:x:65536\n",
		"alice:100000:0\n",
		"alice:4294967295:2\n",
	} {
		_, err := ParseSubIDs(strings.NewReader(in), "/etc/subuid", "alice", 1000)
		if err == nil || !strings.HasPrefix(err.Error(), "/etc/subuid:1:") {
			t.Errorf("%q: err = %v, want one naming /etc/subuid:1", in, err)
		}
	}
}

func TestBuildMapAndArgs(t *testing.T) {
	maps := BuildMap(1000, []Range{{100000, 65536}, {300000, 10}})
	want := []Mapping{{0, 1000, 1}, {1, 100000, 65536}, {65537, 300000, 10}}
	if !reflect.DeepEqual(maps, want) {
		t.Fatalf("got %v", maps)
	}
	args := strings.Join(HelperArgs(42, maps), " ")
	if args != "42 0 1000 1 1 100000 65536 65537 300000 10" {
		t.Fatalf("args = %q", args)
	}
	if !Contains(maps, 0) || !Contains(maps, 65537) || Contains(maps, 65547) {
		t.Fatal("Contains is wrong at the edges")
	}
	if Size(maps) != 65547 {
		t.Fatalf("Size = %d", Size(maps))
	}
	// A huge range is capped below the invalid ID 2^32-1.
	big := BuildMap(1000, []Range{{1, 4294967294}, {5, 5}})
	if len(big) != 2 || Size(big) != 4294967295 {
		t.Fatalf("capped map = %v (size %d)", big, Size(big))
	}
}

func writeFiles(t *testing.T, subuid, subgid string) Files {
	dir := t.TempDir()
	f := Files{SubUID: filepath.Join(dir, "subuid"), SubGID: filepath.Join(dir, "subgid")}
	os.WriteFile(f.SubUID, []byte(subuid), 0o644)
	os.WriteFile(f.SubGID, []byte(subgid), 0o644)
	return f
}

func TestMakePlan(t *testing.T) {
	alice := Caller{Name: "alice", UID: 1000, GID: 1000}
	setuid := filepath.Join(t.TempDir(), "helper")
	os.WriteFile(setuid, nil, 0o755)
	os.Chmod(setuid, 0o755|os.ModeSetuid)
	plain := filepath.Join(t.TempDir(), "helper")
	os.WriteFile(plain, nil, 0o755)

	f := writeFiles(t, "alice:100000:65536\n", "alice:100000:65536\n")
	f.LookPath = func(string) (string, error) { return setuid, nil }
	p, err := MakePlan(Auto, alice, f)
	if err != nil || p.Mode != Full || len(p.UIDs) != 2 || p.Reason != "" {
		t.Fatalf("auto with ranges: %+v %v", p, err)
	}

	noGID := writeFiles(t, "alice:100000:65536\n", "bob:1:2\n")
	noGID.LookPath = f.LookPath
	p, err = MakePlan(Auto, alice, noGID)
	if err != nil || p.Mode != Single || !strings.Contains(p.Reason, "subgid") {
		t.Fatalf("auto without gid range: %+v %v", p, err)
	}
	_, err = MakePlan(Full, alice, noGID)
	if !errors.Is(err, ErrNoSubIDs) || !strings.Contains(err.Error(), "usermod --add-subuids") {
		t.Fatalf("full without gid range: %v", err)
	}

	missing := f
	missing.LookPath = func(string) (string, error) { return "", os.ErrNotExist }
	_, err = MakePlan(Full, alice, missing)
	if !errors.Is(err, ErrNoHelper) || !strings.Contains(err.Error(), "apt-get install uidmap") {
		t.Fatalf("full without helper: %v", err)
	}
	notSetuid := f
	notSetuid.LookPath = func(string) (string, error) { return plain, nil }
	_, err = MakePlan(Full, alice, notSetuid)
	if !errors.Is(err, ErrNoHelper) || !strings.Contains(err.Error(), "chmod u+s") {
		t.Fatalf("full with plain helper: %v", err)
	}

	p, err = MakePlan(Single, alice, f)
	if err != nil || p.Mode != Single || p.UIDs[0] != (Mapping{0, 1000, 1}) {
		t.Fatalf("single: %+v %v", p, err)
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "user"), 0o755)
	os.MkdirAll(filepath.Join(dir, "kernel"), 0o755)
	write := func(f, v string) { os.WriteFile(filepath.Join(dir, f), []byte(v+"\n"), 0o644) }
	write("user/max_user_namespaces", "100")
	write("kernel/apparmor_restrict_unprivileged_userns", "1")
	err := Explain(syscall.EPERM, dir)
	if !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "kernel.apparmor_restrict_unprivileged_userns is 1") {
		t.Fatalf("apparmor: %v", err)
	}
	write("kernel/unprivileged_userns_clone", "0")
	if err := Explain(syscall.EPERM, dir); !strings.Contains(err.Error(), "kernel.unprivileged_userns_clone=1") {
		t.Fatalf("debian knob: %v", err)
	}
	write("user/max_user_namespaces", "0")
	if err := Explain(syscall.ENOSPC, dir); !strings.Contains(err.Error(), "user.max_user_namespaces is 0") {
		t.Fatalf("max: %v", err)
	}
	if err := Explain(syscall.ENOENT, dir); err != syscall.ENOENT {
		t.Fatalf("unrelated error changed: %v", err)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "full", "single"} {
		if _, err := ParseMode(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseMode("many"); err == nil {
		t.Error("ParseMode(many) succeeded")
	}
}

func TestParseMap(t *testing.T) {
	maps := ParseMap("         0       1001          1\n         1     100000      65536\n")
	if len(maps) != 2 || maps[1] != (Mapping{1, 100000, 65536}) {
		t.Fatalf("parsed %v", maps)
	}
	for id, want := range map[uint32]bool{0: true, 65536: true, 65537: false} {
		if Contains(maps, id) != want {
			t.Errorf("id %d: mapped %v, want %v", id, !want, want)
		}
	}
	if full := ParseMap("0 0 4294967295\n"); !Contains(full, 4294967294) {
		t.Error("the initial namespace's map does not hold 4294967294")
	}
}
