package sandbox

import (
	"github.com/burrow-sandbox/burrow/seccomp"
	"github.com/burrow-sandbox/burrow/slirp"
)

// Spec is everything init needs, resolved on the host side: init never
// parses flags or reads the caller's environment.
type Spec struct {
	// Args is the command; Args[0] is looked up in the PATH of Env.
	Args []string `json:"args"`
	// Env is the command's whole environment.
	Env      []string `json:"env"`
	Hostname string   `json:"hostname"`
	// Dir is the working directory inside.
	Dir string `json:"dir"`
	// Mounts is the file system, applied in order on an empty tmpfs.
	Mounts []Op `json:"mounts"`
	// UID and GID run the command; SetGroups says whether setgroups(2)
	// is allowed (it is denied with a single-ID map).
	UID       uint32 `json:"uid"`
	GID       uint32 `json:"gid"`
	SetGroups bool   `json:"setgroups"`
	// TTY gives the command a new pseudo-terminal; Rows and Cols are
	// its first size.
	TTY  bool   `json:"tty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// PreserveFDs passes the caller's fds 3..3+N-1 on to the command.
	PreserveFDs int `json:"preserve_fds,omitempty"`
	// Debug makes init send log records to the parent.
	Debug bool `json:"debug,omitempty"`
	// CowDriver is auto, native or fuse; NativeProbe the cached result
	// of the native overlay probe ("" unknown, "ok", or why it failed),
	// and ProbeDir where to probe (on the file system of the uppers).
	CowDriver   string `json:"cow_driver,omitempty"`
	NativeProbe string `json:"native_probe,omitempty"`
	ProbeDir    string `json:"probe_dir,omitempty"`
	// Remove makes init delete these host paths, as root of the user
	// namespace, and exit: how burrow removes state that holds files of
	// subordinate IDs, which the caller cannot delete on the host.
	Remove []string `json:"remove,omitempty"`
	// Net finishes user-mode networking inside (nil: loopback only, or
	// the host's network); HostNet shares the host's network namespace.
	Net *slirp.Net `json:"net,omitempty"`
	// CgroupNS: pid 1 is in its own scope; the command gets a cgroup
	// namespace rooted there and its cgroup tree on /sys/fs/cgroup.
	CgroupNS bool `json:"cgroupns,omitempty"`
	HostNet  bool `json:"host_net,omitempty"`
	// Caps bounds the command's capabilities: uid 0 inside keeps these,
	// any other user has none. Seccomp is its system call filter (empty:
	// none). Both apply to exec'd processes too.
	Caps    CapSet          `json:"caps"`
	Seccomp seccomp.Program `json:"seccomp,omitempty"`
	// Control: a control socket follows the spec; init serves exec,
	// stop and kill on it while the command runs.
	Control bool `json:"control,omitempty"`
	// Import makes init unpack a root file system into the image store
	// as root of the user namespace, and exit.
	Import *Import `json:"import,omitempty"`
}

// Import is an image import: Source, a tar archive (plain, gzip, zstd)
// or a directory, into Dest, which must not exist. Owners above MaxID
// are not mapped and become 0.
type Import struct {
	Source string `json:"source"`
	Dest   string `json:"dest"`
	MaxID  int    `json:"max_id"`
}

// fd numbers in the child and init stages.
const (
	fdSock  = 3
	fdLog   = 4
	fdFirst = 5 // the first preserved fd, before init moves it to 3
)

// ExecRequest is a process that burrow exec starts in a running sandbox.
// Empty fields take the sandbox's own: its environment (Env entries
// NAME=VALUE override it), working directory and user.
type ExecRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	UID  *uint32  `json:"uid,omitempty"`
	GID  *uint32  `json:"gid,omitempty"`
	TTY  bool     `json:"tty,omitempty"`
	Rows uint16   `json:"rows,omitempty"`
	Cols uint16   `json:"cols,omitempty"`
}
