package seccomp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Action is what a rule does with a matching call: a SECCOMP_RET_ value
// (with the errno in its data for Errno).
type Action uint32

// Actions.
const (
	Allow       Action = unix.SECCOMP_RET_ALLOW
	KillProcess Action = unix.SECCOMP_RET_KILL_PROCESS
	KillThread  Action = unix.SECCOMP_RET_KILL_THREAD
	Trap        Action = unix.SECCOMP_RET_TRAP
	Log         Action = unix.SECCOMP_RET_LOG
)

// Errno fails a call with errno e.
func Errno(e unix.Errno) Action {
	return Action(unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA)
}

// Trace hands a call to a ptrace tracer, or fails it with ENOSYS.
func Trace(data uint32) Action { return Action(unix.SECCOMP_RET_TRACE | data&unix.SECCOMP_RET_DATA) }

// Op compares a system call argument with a value.
type Op string

// Comparisons, as libseccomp and the OCI format name them.
const (
	EQ       Op = "SCMP_CMP_EQ"
	NE       Op = "SCMP_CMP_NE"
	LT       Op = "SCMP_CMP_LT"
	LE       Op = "SCMP_CMP_LE"
	GT       Op = "SCMP_CMP_GT"
	GE       Op = "SCMP_CMP_GE"
	MaskedEQ Op = "SCMP_CMP_MASKED_EQ" // arg & ValueTwo == Value
)

// Arg is a condition on argument Index (0-5), 64 bits wide.
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       Op     `json:"op"`
}

// Rule applies Action to the calls Names when all of Args hold. Arches,
// if any, limit it to those ABIs (GOARCH names: amd64, 386, arm64, arm);
// NotArches exclude some.
type Rule struct {
	Names             []string
	Action            Action
	Args              []Arg
	Arches, NotArches []string
}

// Profile is a filter: the first rule that matches a call decides, else
// Default does.
type Profile struct {
	Default Action
	Rules   []Rule
}

// The calls burrow's default profile refuses with EPERM, in the spirit of
// Docker's and podman's default profile (whose allow-list refuses them
// too), for a sandbox whose root holds only the capabilities of its own
// user namespace: loading or replacing kernels and modules; eBPF, perf
// and userfaultfd, frequent ways into kernel bugs; the kernel keyring,
// which is not namespaced; handles that open files by inode, bypassing
// the mount table (the "shocker" escape); process accounting, swap,
// reboot, the kernel log, I/O ports, and io_uring, whose operations
// bypass this very filter. Calls an architecture lacks are skipped.
var denied = []string{
	"acct", "add_key", "bpf", "delete_module", "finit_module", "init_module",
	"io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl",
	"kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "nfsservctl",
	"open_by_handle_at", "perf_event_open", "quotactl", "reboot", "request_key",
	"swapoff", "swapon", "_sysctl", "syslog", "uselib", "userfaultfd", "ustat",
}

// Ioctl commands the default profile refuses: TIOCSTI pushes bytes into
// a terminal's input, so a sandboxed program could type commands into
// the user's shell (CVE-2017-5226); TIOCLINUX can do the same on a
// virtual console. Only the low 32 bits count: the kernel truncates the
// command to an unsigned int, so a filter that compared all 64 could be
// passed with a high bit set.
var deniedIoctls = []uint64{unix.TIOCSTI, unix.TIOCLINUX}

// Default is burrow's profile. Unless nestedUserns, new user namespaces
// are refused too: unshare and clone with CLONE_NEWUSER fail with EPERM,
// and clone3, whose flags sit in memory a filter cannot read, fails with
// ENOSYS so that libc falls back to clone. Kernel bugs reachable through
// user namespaces are the usual way out of sandboxes like this one
// (bubblewrap's --disable-userns exists for that reason).
func Default(nestedUserns bool) Profile {
	p := Profile{Default: Allow, Rules: []Rule{{Names: denied, Action: Errno(unix.EPERM)}}}
	for _, cmd := range deniedIoctls {
		p.Rules = append(p.Rules, Rule{Names: []string{"ioctl"}, Action: Errno(unix.EPERM),
			Args: []Arg{{Index: 1, Op: MaskedEQ, ValueTwo: 0xffffffff, Value: cmd}}})
	}
	if !nestedUserns {
		newUser := Arg{Index: 0, Op: MaskedEQ, ValueTwo: unix.CLONE_NEWUSER, Value: unix.CLONE_NEWUSER}
		p.Rules = append(p.Rules,
			Rule{Names: []string{"unshare", "clone"}, Action: Errno(unix.EPERM), Args: []Arg{newUser}},
			Rule{Names: []string{"clone3"}, Action: Errno(unix.ENOSYS)})
	}
	return p
}

// DefaultProgram is Compile(Default(nested), arch), compiled when burrow
// was built (zdefault.go, go generate).
func DefaultProgram(arch Arch, nested bool) (Program, error) {
	raw, ok := defaultPrograms[fmt.Sprintf("%s/%v", arch.Name, nested)]
	if !ok {
		return Compile(Default(nested), arch)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	return decode(b)
}

//go:generate go run gen_default.go

// ociProfile is the JSON of the OCI runtime spec's linux.seccomp, which
// is also Docker's and podman's --security-opt seccomp=FILE.
type ociProfile struct {
	DefaultAction   string       `json:"defaultAction"`
	DefaultErrnoRet *uint32      `json:"defaultErrnoRet"`
	Architectures   []string     `json:"architectures"`
	ArchMap         []ociArchMap `json:"archMap"`
	Syscalls        []ociSyscall `json:"syscalls"`
	ListenerPath    string       `json:"listenerPath"`
}

type ociArchMap struct {
	Arch    string   `json:"architecture"`
	SubArch []string `json:"subArchitectures"`
}

type ociSyscall struct {
	Names    []string  `json:"names"`
	Name     string    `json:"name"`
	Action   string    `json:"action"`
	ErrnoRet *uint32   `json:"errnoRet"`
	Args     []Arg     `json:"args"`
	Includes ociFilter `json:"includes"`
	Excludes ociFilter `json:"excludes"`
}

type ociFilter struct {
	Arches    []string `json:"arches"`
	Caps      []string `json:"caps"`
	MinKernel string   `json:"minKernel"`
}

// Env is what a profile's includes and excludes are checked against.
type Env struct {
	Caps   []string // the command's capabilities: CAP_CHOWN, ...
	Kernel string   // uname release, e.g. 6.18.0
}

// archNames maps the names profiles use for an ABI (libseccomp's, Docker's
// short ones) to GOARCH's.
var archNames = map[string]string{
	"SCMP_ARCH_X86_64": "amd64", "x86_64": "amd64", "amd64": "amd64",
	"SCMP_ARCH_X86": "386", "x86": "386", "386": "386", "i386": "386",
	"SCMP_ARCH_AARCH64": "arm64", "aarch64": "arm64", "arm64": "arm64",
	"SCMP_ARCH_ARM": "arm", "arm": "arm",
	"SCMP_ARCH_X32": "x32", "x32": "x32",
}

func goArches(names []string) []string {
	var out []string
	for _, n := range names {
		if g, ok := archNames[n]; ok {
			out = append(out, g)
		} else {
			out = append(out, "other:"+n) // an ABI burrow has no table for
		}
	}
	return out
}

// ParseOCI reads a profile in the OCI / Docker JSON format. Rules whose
// includes or excludes (capabilities, minimum kernel) do not fit env are
// left out, as Docker does; their architectures go with them to Compile,
// which also skips names an ABI does not have (profiles list calls of
// several).
func ParseOCI(data []byte, env Env) (Profile, error) {
	var o ociProfile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&o); err != nil {
		return Profile{}, fmt.Errorf("not a seccomp profile in the OCI/Docker JSON format: %v", err)
	}
	if o.ListenerPath != "" {
		return Profile{}, fmt.Errorf("listenerPath: seccomp user notification is not supported; remove it")
	}
	var p Profile
	var err error
	if p.Default, err = action(o.DefaultAction, o.DefaultErrnoRet); err != nil {
		return Profile{}, fmt.Errorf("defaultAction: %v", err)
	}
	for i, s := range o.Syscalls {
		names := s.Names
		if s.Name != "" {
			names = append(names, s.Name)
		}
		if len(names) == 0 {
			return Profile{}, fmt.Errorf("syscalls[%d]: no names", i)
		}
		a, err := action(s.Action, s.ErrnoRet)
		if err != nil {
			return Profile{}, fmt.Errorf("syscalls[%d] (%s): %v", i, names[0], err)
		}
		for j, arg := range s.Args {
			if arg.Index > 5 {
				return Profile{}, fmt.Errorf("syscalls[%d] (%s): args[%d]: index %d: want 0 to 5", i, names[0], j, arg.Index)
			}
			if !slices.Contains([]Op{EQ, NE, LT, LE, GT, GE, MaskedEQ}, arg.Op) {
				return Profile{}, fmt.Errorf("syscalls[%d] (%s): args[%d]: op %q: want SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ", i, names[0], j, arg.Op)
			}
		}
		if !applies(s, env) {
			continue
		}
		p.Rules = append(p.Rules, Rule{Names: names, Action: a, Args: s.Args,
			Arches: goArches(s.Includes.Arches), NotArches: goArches(s.Excludes.Arches)})
	}
	return p, nil
}

// applies checks a rule's capability and kernel conditions; its
// architectures are Compile's to check, per ABI.
func applies(s ociSyscall, env Env) bool {
	in, ex := s.Includes, s.Excludes
	for _, c := range in.Caps {
		if !slices.Contains(env.Caps, c) {
			return false
		}
	}
	for _, c := range ex.Caps {
		if slices.Contains(env.Caps, c) {
			return false
		}
	}
	if in.MinKernel != "" && kernelBelow(env.Kernel, in.MinKernel) {
		return false
	}
	return true
}

// kernelBelow compares release strings by their numeric major.minor.
func kernelBelow(have, want string) bool {
	var hMaj, hMin, wMaj, wMin int
	fmt.Sscanf(have, "%d.%d", &hMaj, &hMin)
	fmt.Sscanf(want, "%d.%d", &wMaj, &wMin)
	return hMaj < wMaj || hMaj == wMaj && hMin < wMin
}

func action(name string, errnoRet *uint32) (Action, error) {
	errno := uint32(unix.EPERM)
	if errnoRet != nil {
		errno = *errnoRet
	}
	switch name {
	case "SCMP_ACT_ALLOW":
		return Allow, nil
	case "SCMP_ACT_ERRNO":
		return Errno(unix.Errno(errno)), nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return KillThread, nil
	case "SCMP_ACT_KILL_PROCESS":
		return KillProcess, nil
	case "SCMP_ACT_TRAP":
		return Trap, nil
	case "SCMP_ACT_LOG":
		return Log, nil
	case "SCMP_ACT_TRACE":
		return Trace(errno), nil
	case "SCMP_ACT_NOTIFY":
		return 0, fmt.Errorf("SCMP_ACT_NOTIFY: seccomp user notification is not supported")
	}
	return 0, fmt.Errorf("action %q: want SCMP_ACT_ALLOW, _ERRNO, _KILL, _KILL_PROCESS, _KILL_THREAD, _TRAP, _LOG or _TRACE", name)
}
