package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/userns"
)

func testHost(t *testing.T) (hostInfo, userns.Files) {
	dir := t.TempDir()
	files := userns.Files{SubUID: filepath.Join(dir, "subuid"), SubGID: filepath.Join(dir, "subgid")}
	os.WriteFile(files.SubUID, []byte("alice:100000:65536\n"), 0o644)
	os.WriteFile(files.SubGID, []byte("alice:100000:65536\n"), 0o644)
	helper := filepath.Join(dir, "newuidmap")
	os.WriteFile(helper, nil, 0o755)
	os.Chmod(helper, 0o755|os.ModeSetuid)
	files.LookPath = func(string) (string, error) { return helper, nil }
	return hostInfo{
		Caller:  userns.Caller{Name: "alice", UID: 1000, GID: 1000},
		Home:    "/home/alice",
		Cwd:     "/home/alice/src/proj",
		Shell:   "/nonexistent/shell",
		Environ: []string{"PATH=/usr/bin:/bin", "AWS_SECRET_ACCESS_KEY=x"},
	}, files
}

func TestResolveDefaults(t *testing.T) {
	h, files := testHost(t)
	spec, plan, _, err := resolve(request{Map: "auto", Hostname: "burrow"}, h, files)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Mode != userns.Full || !spec.SetGroups {
		t.Fatalf("plan %v, setgroups %v; want full", plan.Mode, spec.SetGroups)
	}
	if strings.Join(spec.Args, " ") != "/bin/sh" || spec.Dir != h.Cwd {
		t.Fatalf("args %v dir %s", spec.Args, spec.Dir)
	}
	env := strings.Join(spec.Env, " ")
	if strings.Contains(env, "AWS_SECRET") || !strings.Contains(env, "HOME=/home/alice") || !strings.Contains(env, "USER=alice") || !strings.Contains(env, "SHELL=/bin/sh") {
		t.Fatalf("env = %s", env)
	}
	var project, home bool
	for _, o := range spec.Mounts {
		project = project || o.Kind == sandbox.Bind && o.Target == h.Cwd && !o.ReadOnly
		home = home || o.Kind == sandbox.Tmpfs && o.Target == h.Home
	}
	if !project || !home {
		t.Fatalf("project bound %v, private home %v", project, home)
	}
}

func TestResolveHomeAndRoot(t *testing.T) {
	for _, cwd := range []string{"/", "/home", "/home/alice"} {
		h, files := testHost(t)
		h.Cwd = cwd
		spec, _, notes, err := resolve(request{Map: "auto", Hostname: "burrow"}, h, files)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Dir != "/home/alice" || len(notes) == 0 {
			t.Errorf("cwd %s: dir %s, notes %v", cwd, spec.Dir, notes)
		}
		for _, o := range spec.Mounts {
			if o.Kind == sandbox.Bind && o.Source == cwd {
				t.Errorf("cwd %s was bound", cwd)
			}
		}
	}
	if !exposesHome("/home/alice", "/home/alice/") || exposesHome("/home/alicex", "/home/alice") || exposesHome("/home/alice/p", "/home/alice") {
		t.Error("exposesHome is wrong")
	}
}

func TestResolveErrors(t *testing.T) {
	h, files := testHost(t)
	for _, c := range []struct {
		req  request
		want string
	}{
		{request{Map: "auto", Hostname: "burrow", User: "70000"}, "--user 70000: uid 70000 is not mapped"},
		{request{Map: "single", Hostname: "burrow", User: "1"}, "use --map=full"},
		{request{Map: "auto", Hostname: "burrow", User: "1:x"}, "want numeric UID[:GID]"},
		{request{Map: "auto", Hostname: "burrow", Rootfs: "/nonexistent"}, "--rootfs /nonexistent: not a directory"},
		{request{Map: "auto", Hostname: "burrow", Workdir: "x"}, `--workdir "x"`},
		{request{Map: "auto", Hostname: ""}, `--hostname ""`},
		{request{Map: "bad", Hostname: "burrow"}, `--map: unknown ID map mode "bad"`},
		{request{Map: "auto", Hostname: "burrow", PreserveFDs: -1}, "--preserve-fds -1"},
		{request{Map: "auto", Hostname: "burrow", EnvSet: []string{"=1"}}, `--env "=1"`},
		{request{Map: "auto", Hostname: "burrow", User: "70000", Labels: map[string]string{"user": `sandbox.user = "70000" (from burrow.toml:3)`}}, `sandbox.user = "70000" (from burrow.toml:3): uid 70000 is not mapped`},
	} {
		_, _, _, err := resolve(c.req, h, files)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.req, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func TestCheckMount(t *testing.T) {
	for _, c := range []struct {
		m    mountArg
		want string
	}{
		{mountArg{sandbox.Bind, false, "/nonexistent/x"}, "--bind /nonexistent/x: no such file or directory"},
		{mountArg{sandbox.Bind, true, ":/x"}, `--ro-bind ":/x": want SRC[:DST]`},
		{mountArg{sandbox.Bind, true, "/tmp:x"}, `--ro-bind "/tmp:x": the target "x" must be an absolute path`},
		{mountArg{sandbox.Tmpfs, false, "x"}, `--tmpfs "x": want an absolute path`},
	} {
		if _, err := checkMount(c.m, "/"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.m, err, c.want)
		}
	}
	um, err := checkMount(mountArg{sandbox.Bind, true, "tmp"}, "/")
	if err != nil || um.Source != "/tmp" || um.Target != "/tmp" || !um.ReadOnly {
		t.Fatalf("relative source: %+v %v", um, err)
	}
}

func TestResolvePreserveFDs(t *testing.T) {
	h, files := testHost(t)
	h.FDOpen = func(fd int) bool { return fd == 3 }
	if _, _, _, err := resolve(request{Map: "auto", Hostname: "burrow", PreserveFDs: 1}, h, files); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := resolve(request{Map: "auto", Hostname: "burrow", PreserveFDs: 2}, h, files)
	if err == nil || !strings.Contains(err.Error(), "fd 4 is not open") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveTTY(t *testing.T) {
	h, files := testHost(t)
	h.StdinTTY, h.Rows, h.Cols = true, 50, 132
	spec, _, _, _ := resolve(request{Map: "auto", Hostname: "burrow"}, h, files)
	if !spec.TTY || spec.Rows != 50 {
		t.Fatalf("terminal stdin: tty %v rows %d", spec.TTY, spec.Rows)
	}
	spec, _, _, _ = resolve(request{Map: "auto", Hostname: "burrow", TTY: "never"}, h, files)
	if spec.TTY {
		t.Fatal("-T ignored")
	}
	h.StdinTTY, h.Rows, h.Cols = false, 0, 0
	spec, _, _, _ = resolve(request{Map: "auto", Hostname: "burrow", TTY: "always"}, h, files)
	if !spec.TTY || spec.Rows != 24 || spec.Cols != 80 {
		t.Fatalf("-t without a terminal: %v %dx%d", spec.TTY, spec.Rows, spec.Cols)
	}
}

func TestUsageErrorsAreOneLine(t *testing.T) {
	var out, errb strings.Builder
	code := run([]string{"burrow", "run", "--nope"}, &out, &errb)
	if code != 125 || errb.String() != "burrow: flag provided but not defined: -nope; see 'burrow run --help'\n" || out.Len() != 0 {
		t.Fatalf("code %d, stderr %q, stdout %q", code, errb.String(), out.String())
	}
}
