package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/burrow-sandbox/burrow/cli"
	"github.com/rogpeppe/go-internal/testscript"
)

// The test binary doubles as burrow: testscript installs a copy named
// "burrow" in $PATH, and sandbox stages re-execute it under that name.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"burrow":      func() { os.Exit(cli.Main(os.Args)) },
		"burrowprobe": func() { os.Exit(probeMain()) },
	})
}

// required are the programs the end-to-end tests use. Under CI=true a
// missing one fails the run instead of skipping it.
var required = []string{"newuidmap", "newgidmap", "busybox", "unshare", "ps", "fuse-overlayfs", "diff", "tar", "gzip", "systemctl",
	"pasta", "slirp4netns", "nsenter", "ip", "dnsmasq", "dig", "curl", "bash"}

func checkPrereqs(t *testing.T) {
	t.Helper()
	if os.Getuid() == 0 {
		t.Fatal("burrow is rootless: run the end-to-end tests as an unprivileged user (make test does that when run as root)")
	}
	var missing []string
	for _, p := range required {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s: run 'make test' as root once to provision", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func TestScript(t *testing.T) {
	checkPrereqs(t)
	runScripts(t, "testdata/script", nil)
}

// TestNet runs the networking scripts once per driver ($NET).
func TestNet(t *testing.T) {
	checkPrereqs(t)
	for _, d := range []string{"pasta", "slirp4netns"} {
		t.Run(d, func(t *testing.T) {
			runScripts(t, "testdata/net", map[string]string{"NET": d})
		})
	}
}

// TestLimitsTier talks to a real systemd user manager, which needs a
// cgroup v2 subtree this test may write: make test (as root) delegates
// one to the test user. Under CI=true its absence fails the test.
func TestLimitsTier(t *testing.T) {
	checkPrereqs(t)
	if err := delegatedCgroup(); err != nil {
		msg := "the systemd tier needs a delegated cgroup: " + err.Error() + "; run 'make test' as root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat("/lib/systemd/systemd"); err != nil {
		t.Fatal("systemd is not installed (Debian package systemd)")
	}
	runScripts(t, "testdata/limits", nil)
}

// TestCgroupfsTier runs burrow's own cgroup management in the delegated
// cgroup; apart from TestLimitsTier, whose private systemd shares it.
func TestCgroupfsTier(t *testing.T) {
	checkPrereqs(t)
	if err := delegatedCgroup(); err != nil {
		msg := "the cgroupfs tier needs a delegated cgroup: " + err.Error() + "; run 'make test' as root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	runScripts(t, "testdata/cgroupfs", nil)
}

// delegatedCgroup checks that this process's cgroup v2 directory is
// writable, in a unified or a hybrid hierarchy.
func delegatedCgroup() error {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
				var st syscall.Statfs_t
				if syscall.Statfs(root, &st) != nil || st.Type != 0x63677270 {
					continue
				}
				procs := filepath.Join(root, p, "cgroup.procs")
				if syscall.Access(procs, 2) == nil {
					return nil
				}
				return fmt.Errorf("%s is not writable", procs)
			}
		}
	}
	return fmt.Errorf("no cgroup v2 hierarchy")
}

// TestCow runs the copy-on-write scripts once per driver ($DRIVER).
func TestCow(t *testing.T) {
	checkPrereqs(t)
	for _, d := range []string{"native", "fuse"} {
		t.Run(d, func(t *testing.T) {
			runScripts(t, "testdata/cow", map[string]string{"DRIVER": d})
		})
	}
}

func runScripts(t *testing.T, dir string, vars map[string]string) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	hostTmp, err := os.CreateTemp("", "burrow-host-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	hostTmp.Close()
	t.Cleanup(func() { os.Remove(hostTmp.Name()) })
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("UID", u.Uid)
			env.Setenv("GID", u.Gid)
			env.Setenv("USER", u.Username)
			env.Setenv("HOST_TMP_FILE", hostTmp.Name())
			for k, v := range vars {
				env.Setenv(k, v)
			}
			start, count := subRange("/etc/subuid", u)
			env.Setenv("SUBUID_START", start)
			env.Setenv("SUBUID_COUNT", count)
			start, count = subRange("/etc/subgid", u)
			env.Setenv("SUBGID_START", start)
			env.Setenv("SUBGID_COUNT", count)
			env.Setenv("TERM", "dumb")
			// A home outside $WORK: the project ($WORK) must not hold it.
			home, err := os.MkdirTemp("", "burrow-home-")
			if err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Defer(func() {
				// Detached sandboxes outlive a failed script: end them.
				if p, err := exec.LookPath("burrow"); err == nil {
					rm := exec.Command("sh", "-c", p+" rm -f $("+p+" ps -aq)")
					rm.Env = append(os.Environ(), "HOME="+home)
					rm.Dir = env.WorkDir
					_ = rm.Run()
				}
				filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
					if d != nil && d.IsDir() {
						os.Chmod(p, 0o700)
					}
					return nil
				})
				os.RemoveAll(home)
			})
			if p, err := exec.LookPath("burrow"); err == nil {
				env.Setenv("BURROW_BIN", filepath.Dir(p))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "cgroup2" {
				var st syscall.Statfs_t
				return syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == 0x63677270, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"start":          cmdStart,
			"signal":         cmdSignal,
			"await":          cmdAwait,
			"waitfile":       cmdWaitfile,
			"nosurvivor":     cmdNoSurvivor,
			"mkbusybox":      cmdMkBusybox,
			"mkevil":         cmdMkEvil,
			"netdrivers":     cmdNetDrivers,
			"gone":           cmdGone,
			"freeport":       cmdFreePort,
			"sandboxpid":     cmdSandboxPid,
			"abstractlisten": cmdAbstractListen,
		},
	})
}

// subRange is the user's first subordinate range, as the tests expect it
// in uid_map.
func subRange(file string, u *user.User) (string, string) {
	b, _ := os.ReadFile(file)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) == 3 && (f[0] == u.Username || f[0] == u.Uid) {
			return f[1], f[2]
		}
	}
	return "none", "none"
}

// Background processes that a script can signal by name (testscript's own
// kill knows only INT and KILL).
type proc struct {
	cmd      *exec.Cmd
	out, err *bytes.Buffer
	done     chan struct{}
}

var (
	procsMu sync.Mutex
	procs   = map[*testscript.TestScript]map[string]*proc{}
)

// start NAME PROGRAM [ARGS...]: run in the background.
func cmdStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: start NAME PROGRAM [ARGS...]")
	}
	path, err := exec.LookPath(args[1])
	if err != nil {
		// testscript's $PATH, not the test process's
		for _, d := range filepath.SplitList(ts.Getenv("PATH")) {
			if p := filepath.Join(d, args[1]); fileExists(p) {
				path, err = p, nil
				break
			}
		}
	}
	ts.Check(err)
	p := &proc{out: new(bytes.Buffer), err: new(bytes.Buffer), done: make(chan struct{})}
	p.cmd = exec.Command(path, args[2:]...)
	p.cmd.Args[0] = args[1]
	p.cmd.Dir = ts.MkAbs(".")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	for _, kv := range []string{"PATH", "HOME", "WORK", "TMPDIR", "USER", "TERM"} {
		p.cmd.Env = append(p.cmd.Env, kv+"="+ts.Getenv(kv))
	}
	ts.Check(p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	procsMu.Lock()
	if procs[ts] == nil {
		procs[ts] = map[string]*proc{}
	}
	procs[ts][args[0]] = p
	procsMu.Unlock()
	ts.Defer(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
}

func getProc(ts *testscript.TestScript, name string) *proc {
	procsMu.Lock()
	defer procsMu.Unlock()
	p := procs[ts][name]
	if p == nil {
		ts.Fatalf("no background process %q", name)
	}
	return p
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "WINCH": syscall.SIGWINCH,
}

// signal NAME SIG: send SIG (TERM, INT, HUP, ...) to burrow itself.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: signal NAME SIG")
	}
	sig, ok := signals[args[1]]
	if !ok {
		ts.Fatalf("unknown signal %s", args[1])
	}
	ts.Check(getProc(ts, args[0]).cmd.Process.Signal(sig))
}

// await NAME STATUS: wait for the process, check its exit status, and
// write its output to NAME.stdout and NAME.stderr.
func cmdAwait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: await NAME STATUS")
	}
	p := getProc(ts, args[0])
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		ts.Fatalf("%s still running after 60s", args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".stdout"), p.out.Bytes(), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".stderr"), p.err.Bytes(), 0o644))
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	got := p.cmd.ProcessState.ExitCode()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		got = 128 + int(ws.Signal())
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d; stderr: %s", args[0], got, want, p.err)
	}
}

// waitfile FILE: wait until FILE exists (the sandboxed script made it).
func cmdWaitfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fileExists(ts.MkAbs(args[0])) {
			return
		}
	}
	ts.Fatalf("%s did not appear within 60s", args[0])
}

// nosurvivor ARG...: no process on the host has exactly this command
// line. A dying process needs a moment: wait for it, then fail.
func cmdNoSurvivor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: nosurvivor ARG...")
	}
	want := strings.Join(args, "\x00") + "\x00"
	var found []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		found = found[:0]
		dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range dirs {
			b, err := os.ReadFile(f)
			if err == nil && string(b) == want {
				found = append(found, f)
			}
		}
		if len(found) == 0 {
			return
		}
	}
	ts.Fatalf("processes survived: %v", found)
}

// mkbusybox DIR: a minimal root file system, busybox and its applets.
func cmdMkBusybox(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkbusybox DIR")
	}
	dir := ts.MkAbs(args[0])
	bb, err := exec.LookPath("busybox")
	ts.Check(err)
	ts.Check(os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	for _, d := range []string{"etc", "usr", "var"} {
		ts.Check(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	b, err := os.ReadFile(bb)
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755))
	list, err := exec.Command(bb, "--list").Output()
	ts.Check(err)
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			ts.Check(os.Symlink("busybox", filepath.Join(dir, "bin", applet)))
		}
	}
	ts.Check(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
}

// mkevil FILE: a tar archive that tries to leave its root: "../", an
// absolute name, a write through a symlink it made, a device node; and
// one harmless file, /ok.
func cmdMkEvil(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkevil FILE")
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	tw := tar.NewWriter(f)
	escaped := ts.MkAbs("escaped")
	for _, h := range []*tar.Header{
		{Name: "../escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: escaped, Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: filepath.Dir(escaped)},
		{Name: "link/escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: "a/../../escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644},
		{Name: "dev/sda", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0o600},
		{Name: "ok", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
	} {
		ts.Check(tw.WriteHeader(h))
		body := "x"
		if h.Name == "ok" {
			body = "fine\n"
		}
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(body))
			ts.Check(err)
		}
	}
	ts.Check(tw.Close())
}

// netdrivers NAME: find the network driver processes (pasta,
// slirp4netns) that serve the sandbox of background burrow NAME, by the
// pid of its init on their command line; store them in $DRIVER_PIDS.
func cmdNetDrivers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: netdrivers NAME|INITPID")
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var inits []string
		if _, err := strconv.Atoi(args[0]); err == nil {
			inits = []string{args[0]} // a detached sandbox's pid 1
		} else {
			parent := getProc(ts, args[0]).cmd.Process.Pid
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
			for _, t := range tasks {
				b, _ := os.ReadFile(t)
				inits = append(inits, strings.Fields(string(b))...)
			}
		}
		var found []string
		cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, f := range cmdlines {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
			if !strings.Contains(filepath.Base(argv[0]), "pasta") && !strings.Contains(filepath.Base(argv[0]), "slirp4netns") {
				continue
			}
			for _, a := range argv[1:] {
				for _, pid := range inits {
					if a == pid {
						found = append(found, strings.Split(f, "/")[2])
					}
				}
			}
		}
		if len(found) > 0 {
			ts.Setenv("DRIVER_PIDS", strings.Join(found, " "))
			return
		}
	}
	ts.Fatalf("no network driver process found for %s", args[0])
}

// gone PID...: wait until these processes have ended.
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: gone PID...")
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		alive := 0
		for _, p := range args {
			for _, f := range strings.Fields(p) {
				if b, err := os.ReadFile("/proc/" + f + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
					alive++
				}
			}
		}
		if alive == 0 {
			return
		}
	}
	ts.Fatalf("still running: %v", args)
}

// freeport VAR...: set each VAR to a TCP port that is free now, so that
// scripts running in parallel do not collide.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	for _, v := range args {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ts.Setenv(v, strconv.Itoa(port))
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// sandboxpid VAR NAME: set VAR to the host pid of the sandbox NAME's
// pid 1 and KEEPER_PID to its keeper's, from burrow inspect.
func cmdSandboxPid(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sandboxpid VAR NAME")
	}
	cmd := exec.Command(filepath.Join(ts.Getenv("BURROW_BIN"), "burrow"), "inspect", args[1])
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "PATH="+ts.Getenv("PATH"))
	out, err := cmd.Output()
	ts.Check(err)
	var v []struct {
		State struct {
			Pid    int `json:"pid"`
			Keeper int `json:"keeper_pid"`
		} `json:"state"`
	}
	ts.Check(json.Unmarshal(out, &v))
	if len(v) != 1 || v[0].State.Pid == 0 {
		ts.Fatalf("sandbox %s has no pid: %s", args[1], out)
	}
	ts.Setenv(args[0], strconv.Itoa(v[0].State.Pid))
	ts.Setenv("KEEPER_PID", strconv.Itoa(v[0].State.Keeper))
}
