package sandbox

import (
	"fmt"
	"strings"
)

// capNames are the capabilities by number (linux/capability.h).
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

// DefaultCaps are podman's default capabilities (containers.conf), which
// uid 0 inside keeps: enough to install packages and run services, not
// enough to mount, trace other processes, or change the network.
var DefaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}

// CapSet is a set of capabilities, bit N for capability N.
type CapSet uint64

// Names lists the set's capabilities.
func (s CapSet) Names() []string {
	var out []string
	for i, n := range capNames {
		if s&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func capNumber(name string) (int, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("capability %q: unknown; want a name such as NET_RAW or CAP_SYS_PTRACE, or all", name)
}

// Caps computes the command's capabilities: DefaultCaps, minus drop, plus
// add (an added capability wins over a dropped one, as in podman); "all"
// in drop starts from none, in add from every capability.
func Caps(add, drop []string) (CapSet, error) {
	var set CapSet
	for _, n := range DefaultCaps {
		i, _ := capNumber(n)
		set |= 1 << i
	}
	all := CapSet(1)<<len(capNames) - 1
	for _, n := range drop {
		if strings.EqualFold(n, "all") {
			set = 0
			continue
		}
		i, err := capNumber(n)
		if err != nil {
			return 0, fmt.Errorf("--cap-drop: %w", err)
		}
		set &^= 1 << i
	}
	for _, n := range add {
		if strings.EqualFold(n, "all") {
			set = all
			continue
		}
		i, err := capNumber(n)
		if err != nil {
			return 0, fmt.Errorf("--cap-add: %w", err)
		}
		set |= 1 << i
	}
	return set, nil
}
