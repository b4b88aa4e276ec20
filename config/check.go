package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

type reporter func(key string, atValue bool, format string, args ...any)

var (
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)
	userSpec   = regexp.MustCompile(`^[0-9]+(:[0-9]+)?$`)
	// Checked fully when the sandbox starts; this catches typos early.
	capName     = regexp.MustCompile(`^(?i)(cap_)?[a-z_]+$`)
	publishSpec = regexp.MustCompile(`^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?[0-9]{1,5}:[0-9]{1,5}(/(tcp|udp))?$`)
	ipAddr      = regexp.MustCompile(`^[0-9a-fA-F:.]+$`)
	sizeSpec    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([kKmMgGtT](i?[bB])?)?$`)
)

// oneOf checks an enumerated value.
func oneOf(bad reporter, key string, v *string, allowed ...string) {
	if v == nil {
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	bad(key, true, "%s = %q: want %s", key, *v, quoteList(allowed))
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// ValidHostname is the rule for --hostname and sandbox.hostname.
func ValidHostname(h string) bool {
	return h != "" && len(h) <= 64 && !strings.ContainsAny(h, "/ \t\n\x00")
}

// check validates every value and expands paths in place.
func (f *File) check(ctx Context, bad reporter) {
	p := &f.Profile
	dir := ctx.Cwd
	if !f.Builtin() {
		dir = filepath.Dir(f.Path)
	}
	expand := func(key, v string, relTo string) (string, bool) {
		out, err := Expand(v, ctx, relTo)
		if err != nil {
			bad(key, true, "%s = %q: %v", key, v, err)
			return "", false
		}
		return out, true
	}
	s := &p.Sandbox
	if s.Hostname != nil && !ValidHostname(*s.Hostname) {
		bad("sandbox.hostname", true, "sandbox.hostname = %q: want 1 to 64 characters without spaces or slashes", *s.Hostname)
	}
	oneOf(bad, "sandbox.map", s.Map, "auto", "full", "single")
	oneOf(bad, "sandbox.tty", s.TTY, "auto", "always", "never")
	oneOf(bad, "project.mode", p.Project.Mode, "rw", "ro", "cow")
	oneOf(bad, "sandbox.root", s.Root, "ro", "cow")
	oneOf(bad, "network.mode", p.Network.Mode, "none", "pasta", "slirp4netns", "host", "auto")
	oneOf(bad, "limits.cgroups", p.Limits.Cgroups, "auto", "systemd", "cgroupfs", "none")
	for _, k := range []struct {
		key string
		v   *string
	}{{"limits.memory", p.Limits.Memory}, {"limits.memory_high", p.Limits.MemoryHigh}} {
		if k.v != nil && !sizeSpec.MatchString(*k.v) {
			bad(k.key, true, "%s = %q: want a size such as \"512M\" or \"2G\"", k.key, *k.v)
		}
	}
	if c := p.Limits.CPUs; c != nil && *c < 0.01 {
		bad("limits.cpus", true, "limits.cpus = %v: want 0.01 or more (1.0 is one CPU)", *c)
	}
	if n := p.Limits.Pids; n != nil && *n < 1 {
		bad("limits.pids", true, "limits.pids = %d: want 1 or more", *n)
	}
	for _, k := range []struct {
		key string
		v   *int64
	}{{"limits.cpu_weight", p.Limits.CPUWeight}, {"limits.io_weight", p.Limits.IOWeight}} {
		if k.v != nil && (*k.v < 1 || *k.v > 10000) {
			bad(k.key, true, "%s = %d: want 1 to 10000", k.key, *k.v)
		}
	}
	for i, pub := range p.Network.Publish {
		if !publishSpec.MatchString(pub) {
			bad(fmt.Sprintf("network.publish.%d", i), true, "network.publish: %q: want [HOSTIP:]HOSTPORT:PORT[/tcp|/udp], e.g. \"8080:80\"", pub)
		}
	}
	for i, d := range p.Network.DNS {
		if !ipAddr.MatchString(d) {
			bad(fmt.Sprintf("network.dns.%d", i), true, "network.dns: %q: want an IP address", d)
		}
	}
	oneOf(bad, "sandbox.cow_driver", s.CowDriver, "auto", "native", "fuse")
	if s.User != nil && !userSpec.MatchString(*s.User) {
		bad("sandbox.user", true, "sandbox.user = %q: want numeric \"UID[:GID]\", e.g. \"1000:1000\"", *s.User)
	}
	if s.Workdir != nil {
		if w, ok := expand("sandbox.workdir", *s.Workdir, ""); ok {
			if !filepath.IsAbs(w) {
				bad("sandbox.workdir", true, "sandbox.workdir = %q: want an absolute path inside the sandbox", *s.Workdir)
			}
			*s.Workdir = filepath.Clean(w)
		}
	}
	if s.Rootfs != nil {
		if r, ok := expand("sandbox.rootfs", *s.Rootfs, dir); ok {
			if fi, err := os.Stat(r); err != nil || !fi.IsDir() {
				bad("sandbox.rootfs", true, "sandbox.rootfs = %q: %s is not a directory; give the directory of an unpacked root file system", *s.Rootfs, r)
			}
			*s.Rootfs = r
		}
	}
	if sc := p.Security.Seccomp; sc != nil && *sc != "default" && *sc != "unconfined" {
		if f, ok := expand("security.seccomp", *sc, dir); ok {
			if fi, err := os.Stat(f); err != nil || fi.IsDir() {
				bad("security.seccomp", true, "security.seccomp = %q: %s is not a file; want default, unconfined, or a profile in the OCI/Docker JSON format", *sc, f)
			}
			*sc = f
		}
	}
	for k, list := range map[string][]string{"security.cap_add": p.Security.CapAdd, "security.cap_drop": p.Security.CapDrop} {
		for i, c := range list {
			if !capName.MatchString(c) {
				bad(fmt.Sprintf("%s.%d", k, i), true, "%s: %q is not a capability name (e.g. NET_RAW, CAP_SYS_PTRACE, all)", k, c)
			}
		}
	}
	for i, n := range p.Env.Pass {
		if !envPattern.MatchString(n) {
			bad(fmt.Sprintf("env.pass.%d", i), true, "env.pass: %q is not a variable name (letters, digits, _; a trailing * matches a prefix)", n)
		}
	}
	for n := range p.Env.Set {
		if !envName.MatchString(n) {
			bad("env.set."+n, false, "env.set: %q is not a variable name (letters, digits and _, not starting with a digit)", n)
		}
	}
	for i := range p.Mount {
		f.checkMount(i, dir, bad, expand)
	}
	for i, t := range p.Drop.Mounts {
		if t != "*" && !filepath.IsAbs(t) {
			bad(fmt.Sprintf("drop.mounts.%d", i), true, "drop.mounts: %q: want the absolute target of an inherited mount, or \"*\"", t)
		}
	}
	for i, n := range p.Drop.Env {
		if n != "*" && !envPattern.MatchString(n) {
			bad(fmt.Sprintf("drop.env.%d", i), true, "drop.env: %q: want a variable name, or \"*\"", n)
		}
	}
	if p.Extends != "" && strings.TrimSpace(p.Extends) != p.Extends {
		bad("extends", true, "extends = %q: remove the surrounding spaces", p.Extends)
	}
}

func (f *File) checkMount(i int, dir string, bad reporter, expand func(string, string, string) (string, bool)) {
	m := &f.Profile.Mount[i]
	key := fmt.Sprintf("mount.%d", i)
	switch m.Type {
	case "bind", "ro-bind":
		if m.Source == "" {
			bad(key, false, "[[mount]] of type %q needs a source: the host path to bind", m.Type)
			return
		}
		src, ok := expand(key+".source", m.Source, dir)
		if !ok {
			return
		}
		if _, err := os.Stat(src); err != nil {
			bad(key+".source", true, "mount source %q: %s does not exist; create it or fix the path", m.Source, src)
		}
		if m.Target == "" {
			m.Target = src
		}
		m.Source = src
	case "tmpfs":
		if m.Source != "" {
			bad(key+".source", false, "a tmpfs mount takes no source; remove it")
		}
		if m.Target == "" {
			bad(key, false, "[[mount]] of type \"tmpfs\" needs a target: the absolute path inside")
			return
		}
	case "":
		bad(key, false, "[[mount]] needs a type: \"bind\", \"ro-bind\" or \"tmpfs\"")
		return
	default:
		bad(key+".type", true, "mount type %q: want \"bind\", \"ro-bind\" or \"tmpfs\"", m.Type)
		return
	}
	tgt, ok := expand(key+".target", m.Target, "")
	if !ok {
		return
	}
	if !filepath.IsAbs(tgt) {
		k := key + ".target"
		if _, set := f.keys[k]; !set {
			k = key
		}
		bad(k, true, "mount target %q is not an absolute path; write the path inside the sandbox, e.g. \"/data\"", m.Target)
		return
	}
	m.Target = filepath.Clean(tgt)
}

// Expand replaces a leading ~ with the home directory and ${PROJECT} with
// the project directory, and makes a relative result relative to relTo
// (left relative when relTo is empty).
func Expand(v string, ctx Context, relTo string) (string, error) {
	if v == "~" || strings.HasPrefix(v, "~/") {
		if ctx.Home == "" {
			return "", fmt.Errorf("~ needs $HOME")
		}
		v = ctx.Home + v[1:]
	}
	if strings.Contains(v, "${PROJECT}") {
		if ctx.Project == "" {
			return "", fmt.Errorf("${PROJECT} is used, but there is no project directory")
		}
		v = strings.ReplaceAll(v, "${PROJECT}", ctx.Project)
	}
	if strings.Contains(v, "${") {
		return "", fmt.Errorf("only ${PROJECT} expands in paths")
	}
	if relTo != "" && !filepath.IsAbs(v) {
		v = filepath.Join(relTo, v)
	}
	if filepath.IsAbs(v) {
		v = filepath.Clean(v)
	}
	return v, nil
}
