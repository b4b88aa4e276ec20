// Package cgroup enforces a sandbox's resource limits the one sound
// rootless way on a modern distribution: a transient scope from the
// user's systemd manager, over D-Bus (github.com/coreos/go-systemd/v22),
// with the sandbox's pid 1 in it and its cgroup v2 subtree delegated.
//
// When limits are asked for and cannot be enforced, Plan refuses, names
// the cause and the fix: no user manager, a cgroup v1 or hybrid
// hierarchy, a controller that is not delegated. A limit is never
// dropped silently (podman's most-reported rootless limits bug).
package cgroup
