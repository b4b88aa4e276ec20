// Package slirp gives a sandbox user-mode networking: pasta or
// slirp4netns connect its network namespace to the host's stack as the
// calling user, and rootlesskit's builtin port driver publishes ports.
// The drivers are github.com/rootless-containers/rootlesskit/v2's
// (pkg/network/pasta, pkg/network/slirp4netns, pkg/port/builtin), used as
// libraries; this package chooses and configures them, checks published
// ports before a sandbox starts, and writes the sandbox's resolv.conf,
// hosts and hostname.
//
// The parent side (Start) runs on the host; the child side
// (ConfigureChild, StartPortChild) inside the sandbox's namespaces, before
// pivot_root, while the host's paths are still reachable.
package slirp
