package config

// Profile is one TOML file. Pointers tell "not set" from a zero value,
// so that a layer overrides only what it sets. The desc tags feed the
// JSON Schema and the key reference (docs/profiles.md).
type Profile struct {
	Extends  string   `toml:"extends" desc:"Profile this one builds on: a built-in (default, strict), a user profile name (~/.config/burrow/profiles/NAME.toml), or a path relative to this file."`
	Sandbox  Sandbox  `toml:"sandbox" desc:"The sandbox itself."`
	Project  Project  `toml:"project" desc:"The project directory: the one holding burrow.toml, else the current directory."`
	Env      Env      `toml:"env" desc:"The command's environment."`
	Network  Network  `toml:"network" desc:"User-mode networking and published ports."`
	Limits   Limits   `toml:"limits" desc:"Resource limits, enforced through a systemd user scope."`
	Security Security `toml:"security" desc:"What the command may do to the kernel: its system call filter and capabilities."`
	Mount    []Mount  `toml:"mount" desc:"Extra mounts, applied in order after burrow's own (array of tables: [[mount]])."`
	Drop     Drop     `toml:"drop" desc:"Drop list entries inherited from the layers below (built-ins, your config, extended profiles)."`
}

// Sandbox holds the scalar options of burrow run.
type Sandbox struct {
	Hostname  *string `toml:"hostname" desc:"Host name inside (--hostname)." default:"burrow"`
	Workdir   *string `toml:"workdir" desc:"Working directory inside, absolute; ~ and ${PROJECT} expand (--workdir)."`
	Rootfs    *string `toml:"rootfs" desc:"A directory holding a root file system, the lower layer of a copy-on-write / (--rootfs); relative to this file."`
	Image     *string `toml:"image" desc:"An imported image (burrow images), the lower layer of a copy-on-write / (--image)."`
	User      *string `toml:"user" desc:"Run the command as UID[:GID] inside (--user)." pattern:"^[0-9]+(:[0-9]+)?$"`
	Map       *string `toml:"map" desc:"ID mapping: auto, full or single (--map)." enum:"auto,full,single" default:"auto"`
	TTY       *string `toml:"tty" desc:"Pseudo-terminal: auto (when stdin is a terminal), always (-t) or never (-T)." enum:"auto,always,never" default:"auto"`
	Root      *string `toml:"root" desc:"The shared system directories: ro (read-only) or cow (writable, changes kept in the sandbox's state, never on the host) (--root)." enum:"ro,cow" default:"ro"`
	CowDriver *string `toml:"cow_driver" desc:"Copy-on-write driver: auto (native overlayfs when a probe mount works, else fuse-overlayfs), native or fuse (--cow-driver)." enum:"auto,native,fuse" default:"auto"`
}

// Project says how the project directory is shared.
type Project struct {
	Mode *string `toml:"mode" desc:"rw: the sandbox may change the project; ro: it may only read it; cow: it may change it, but the changes stay in the sandbox's state until burrow apply (--project)." enum:"rw,ro,cow" default:"rw"`
}

// Env shapes the command's environment.
type Env struct {
	Pass []string          `toml:"pass" desc:"Names of your variables to pass in; a trailing * matches a prefix (LC_*) (--env NAME). The built-in default passes PATH, TERM, COLORTERM, LANG, LC_*, TZ and NO_COLOR; each profile adds to the list." pattern:"^[A-Za-z_][A-Za-z0-9_]*\\*?$"`
	Set  map[string]string `toml:"set" desc:"Variables to set: NAME = \"value\" (--env NAME=value)."`
	All  *bool             `toml:"all" desc:"Pass your whole environment; unsafe: tokens and keys go in too (--env-all)." default:"false"`
}

// Limits is the [limits] table.
type Limits struct {
	Memory     *string  `toml:"memory" desc:"Hard memory limit, e.g. \"512M\", \"2G\" (--memory)."`
	MemoryHigh *string  `toml:"memory_high" desc:"Memory above which the sandbox is throttled (--memory-high)."`
	CPUs       *float64 `toml:"cpus" desc:"CPU time, 1.0 is one CPU (--cpus)."`
	Pids       *int64   `toml:"pids" desc:"Most tasks (processes and threads) at once (--pids)."`
	CPUWeight  *int64   `toml:"cpu_weight" desc:"CPU share, 1 to 10000, 100 by default (--cpu-weight)."`
	IOWeight   *int64   `toml:"io_weight" desc:"I/O share, 1 to 10000, 100 by default (--io-weight)."`
	Cgroups    *string  `toml:"cgroups" desc:"auto (a systemd scope when a user manager is there, else your own delegated cgroup), systemd, cgroupfs (your own delegated cgroup), or none (refused with limits) (--cgroups)." enum:"auto,systemd,cgroupfs,none" default:"auto"`
}

// Security is the [security] table.
type Security struct {
	Seccomp           *string  `toml:"seccomp" desc:"System call filter: default (burrow's deny-list), unconfined (none: weaker), or a profile in the OCI/Docker JSON format, a path relative to this file (--seccomp)." default:"default"`
	AllowNestedUserns *bool    `toml:"allow_nested_userns" desc:"Let the command create user namespaces, for tools that sandbox themselves; weaker: the kernel code they reach is the usual way out (--allow-nested-userns)." default:"false"`
	Unmask            *bool    `toml:"unmask" desc:"Do not hide kernel files (/proc/kcore, /sys/firmware, ...) nor make /proc/sys read-only, so that a nested sandbox can mount its own /proc (--unmask); weaker." default:"false"`
	CapAdd            []string `toml:"cap_add" desc:"Capabilities to add to uid 0's default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), e.g. \"NET_RAW\"; \"all\" for every one (--cap-add)." pattern:"^(?i)(cap_)?[a-z_]+$"`
	CapDrop           []string `toml:"cap_drop" desc:"Capabilities to drop from that set; \"all\" for every one (--cap-drop)." pattern:"^(?i)(cap_)?[a-z_]+$"`
}

// Network is the [network] table.
type Network struct {
	Mode              *string  `toml:"mode" desc:"none (loopback only), pasta or slirp4netns (user-mode networking), host (the host's network: weaker), or auto (the best user-mode driver installed) (--net)." enum:"none,pasta,slirp4netns,host,auto" default:"none"`
	Publish           []string `toml:"publish" desc:"Published ports, [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]; HOSTIP defaults to 127.0.0.1 (--publish)."`
	DNS               []string `toml:"dns" desc:"Nameservers for the sandbox's resolv.conf instead of the driver's forwarder, 10.0.2.3 (--dns)."`
	AllowHostLoopback *bool    `toml:"allow_host_loopback" desc:"Let the sandbox reach the host's loopback services at 10.0.2.2 (--allow-host-loopback)." default:"false"`
}

// Mount is one [[mount]] entry.
type Mount struct {
	Type   string `toml:"type" desc:"bind (read-write), ro-bind (read-only) or tmpfs." enum:"bind,ro-bind,tmpfs" required:"true"`
	Source string `toml:"source" desc:"Host path of a bind; ~ and ${PROJECT} expand, relative paths start at this file's directory."`
	Target string `toml:"target" desc:"Absolute path inside; defaults to the source for binds, required for tmpfs."`
}

// Drop removes inherited list entries.
type Drop struct {
	Mounts []string `toml:"mounts" desc:"Targets of inherited mounts to drop; \"*\" drops them all."`
	Env    []string `toml:"env" desc:"Names of inherited env.pass and env.set entries to drop; \"*\" drops them all."`
}
