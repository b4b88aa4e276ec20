package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// run interprets prog the way the kernel does for the instructions
// Compile emits.
func run(t *testing.T, prog Program, arch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case ldAbs:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case and:
			acc &= in.K
		case jeq, jgt, jge:
			ok := acc == in.K
			if in.Code == jgt {
				ok = acc > in.K
			} else if in.Code == jge {
				ok = acc >= in.K
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case ja:
			pc += int(in.K)
		case ret:
			return in.K
		default:
			t.Fatalf("unknown opcode %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("fell off the end of the program")
	return 0
}

func nr(t *testing.T, arch Arch, name string) uint32 {
	n, ok := arch.Syscalls[name]
	if !ok {
		t.Fatalf("%s has no %s", arch.Name, name)
	}
	return n
}

func TestDefaultProfile(t *testing.T) {
	for _, arch := range Arches {
		t.Run(arch.Name, func(t *testing.T) {
			prog, err := Compile(Default(false), arch)
			if err != nil {
				t.Fatal(err)
			}
			eperm, enosys := uint32(Errno(unix.EPERM)), uint32(Errno(unix.ENOSYS))
			check := func(name string, args [6]uint64, want uint32) {
				t.Helper()
				if got := run(t, prog, arch.Audit, nr(t, arch, name), args); got != want {
					t.Errorf("%s%v: %#x, want %#x", name, args[:2], got, want)
				}
			}
			allow := uint32(Allow)
			for _, name := range []string{"bpf", "kexec_load", "init_module", "finit_module", "delete_module", "keyctl", "add_key",
				"request_key", "perf_event_open", "userfaultfd", "open_by_handle_at", "acct", "swapon", "swapoff", "reboot", "syslog", "lookup_dcookie"} {
				check(name, [6]uint64{}, eperm)
			}
			check("read", [6]uint64{}, allow)
			check("openat", [6]uint64{}, allow)
			check("ioctl", [6]uint64{1, unix.TIOCSTI}, eperm)
			check("ioctl", [6]uint64{1, 1<<32 | unix.TIOCSTI}, eperm) // the kernel truncates cmd
			check("ioctl", [6]uint64{1, unix.TIOCLINUX}, eperm)
			check("ioctl", [6]uint64{1, unix.TIOCGWINSZ}, allow)
			check("unshare", [6]uint64{unix.CLONE_NEWUSER}, eperm)
			check("unshare", [6]uint64{unix.CLONE_NEWNS | unix.CLONE_NEWUSER}, eperm)
			check("unshare", [6]uint64{unix.CLONE_NEWNS}, allow)
			check("clone", [6]uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm)
			check("clone", [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD}, allow)
			check("clone3", [6]uint64{}, enosys)
			// The 32-bit ABI gets the same rules with its own numbers;
			// any other ABI dies, and so does x32 on x86_64.
			for _, c := range arch.Compat {
				for name, want := range map[string]uint32{"keyctl": eperm, "read": allow, "clone3": enosys} {
					if got := run(t, prog, c.Audit, nr(t, c, name), [6]uint64{}); got != want {
						t.Errorf("%s %s: %#x, want %#x", c.Name, name, got, want)
					}
				}
				if got := run(t, prog, c.Audit, nr(t, c, "unshare"), [6]uint64{unix.CLONE_NEWUSER}); got != eperm {
					t.Errorf("%s unshare(CLONE_NEWUSER): %#x", c.Name, got)
				}
			}
			if got := run(t, prog, unix.AUDIT_ARCH_MIPS, 1, [6]uint64{}); got != uint32(KillProcess) {
				t.Errorf("a MIPS call: %#x", got)
			}
			if arch.X32Bit != 0 {
				if got := run(t, prog, arch.Audit, arch.X32Bit|nr(t, arch, "read"), [6]uint64{}); got != uint32(KillProcess) {
					t.Errorf("x32 call: %#x", got)
				}
			}
			nested, err := Compile(Default(true), arch)
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, nested, arch.Audit, nr(t, arch, "unshare"), [6]uint64{unix.CLONE_NEWUSER}); got != allow {
				t.Errorf("nested: unshare(CLONE_NEWUSER) %#x", got)
			}
			if got := run(t, nested, arch.Audit, nr(t, arch, "clone3"), [6]uint64{}); got != allow {
				t.Errorf("nested: clone3 %#x", got)
			}
		})
	}
}

func TestComparisons(t *testing.T) {
	arch := Arches["amd64"]
	values := []uint64{0, 1, 5, 6, 7, 1 << 32, 1<<32 | 6, 1<<32 | 7, 2 << 32, ^uint64(0)}
	for _, op := range []Op{EQ, NE, LT, LE, GT, GE, MaskedEQ} {
		for _, v := range []uint64{6, 1<<32 | 6} {
			p := Profile{Default: Allow, Rules: []Rule{{Names: []string{"write"}, Action: Errno(unix.EACCES),
				Args: []Arg{{Index: 2, Op: op, Value: v, ValueTwo: 0xffff0000ffff}}}}}
			prog, err := Compile(p, arch)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range values {
				var want bool
				switch op {
				case EQ:
					want = x == v
				case NE:
					want = x != v
				case LT:
					want = x < v
				case LE:
					want = x <= v
				case GT:
					want = x > v
				case GE:
					want = x >= v
				case MaskedEQ:
					want = x&0xffff0000ffff == v
				}
				got := run(t, prog, arch.Audit, nr(t, arch, "write"), [6]uint64{0, 0, x}) == uint32(Errno(unix.EACCES))
				if got != want {
					t.Errorf("%s %#x against %#x: matched %v, want %v", op, x, v, got, want)
				}
			}
		}
	}
}

func TestParseOCI(t *testing.T) {
	profile := `{
	  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
	  "architectures": ["SCMP_ARCH_X86_64"],
	  "syscalls": [
	    {"names": ["read", "write", "exit_group", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
	    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
	    {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
	    {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
	    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
	    {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86"]}}
	  ]}`
	env := Env{Caps: []string{"CAP_CHOWN"}, Kernel: "6.18.0"}
	p, err := ParseOCI([]byte(profile), env)
	if err != nil {
		t.Fatal(err)
	}
	arch := Arches["amd64"]
	prog, err := Compile(p, arch)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		arg0 uint64
		want Action
	}{{"read", 0, Allow}, {"write", 0, Allow}, {"mount", 0, Errno(38)}, {"personality", 8, Allow},
		{"personality", 9, Errno(38)}, {"arch_prctl", 0, Errno(38)}, {"chmod", 0, Errno(1)}, {"getpid", 0, Errno(38)}} {
		if got := run(t, prog, arch.Audit, nr(t, arch, c.name), [6]uint64{c.arg0}); got != uint32(c.want) {
			t.Errorf("%s(%d): %#x, want %#x", c.name, c.arg0, got, c.want)
		}
	}
	x86 := arch.Compat[0]
	if got := run(t, prog, x86.Audit, nr(t, x86, "getpid"), [6]uint64{}); got != uint32(Allow) {
		t.Errorf("i386 getpid (a rule for x86 only): %#x", got)
	}
	env.Caps = append(env.Caps, "CAP_SYS_ADMIN")
	p, _ = ParseOCI([]byte(profile), env)
	prog, _ = Compile(p, arch)
	if got := run(t, prog, arch.Audit, nr(t, arch, "mount"), [6]uint64{}); got != uint32(Allow) {
		t.Errorf("mount with CAP_SYS_ADMIN: %#x", got)
	}

	for bad, want := range map[string]string{
		`{"defaultAction": "SCMP_ACT_NOPE"}`: `action "SCMP_ACT_NOPE"`,
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_NOTIFY"}]}`:                                                "user notification",
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "op": "SCMP_CMP_EQ"}]}]}`: "index 7",
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "EQ"}]}]}`:          `op "EQ"`,
		`not json`: "OCI/Docker JSON format",
	} {
		if _, err := ParseOCI([]byte(bad), env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", bad, err, want)
		}
	}
}

func TestProgramJSON(t *testing.T) {
	prog, err := Compile(Default(false), Arches["arm64"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct{ P Program }{prog})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ P Program }
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prog, back.P) {
		t.Fatal("the program changed on its way through JSON")
	}
	if err := json.Unmarshal([]byte(`{"P": "AAAA"}`), &back); err == nil {
		t.Error("a program of 3 bytes was accepted")
	}
}

// The programs compiled when burrow was built are today's.
func TestDefaultProgramsCurrent(t *testing.T) {
	for _, arch := range Arches {
		for _, nested := range []bool{false, true} {
			want, err := Compile(Default(nested), arch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DefaultProgram(arch, nested)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s nested=%v: zdefault.go is stale: go generate ./seccomp", arch.Name, nested)
			}
		}
	}
}
