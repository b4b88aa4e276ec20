package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Origin says where a value came from.
type Origin struct {
	// Kind is "built-in", "file" or "flag".
	Kind string `json:"kind"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Flag string `json:"flag,omitempty"`
}

func (o Origin) String() string {
	switch o.Kind {
	case "flag":
		return "flag " + o.Flag
	case "file":
		if o.Line > 0 {
			return fmt.Sprintf("from %s:%d", o.File, o.Line)
		}
		return "from " + o.File
	}
	if o.File != "" && o.File != "default" {
		return o.Kind + " " + o.File
	}
	return o.Kind
}

// Value is a merged value and its origin.
type Value[T any] struct {
	V    T
	From Origin
}

// Effective is the merge of every layer: what a sandbox will get.
type Effective struct {
	Hostname, Workdir, Rootfs, User, Map, TTY Value[string]
	Root, CowDriver, Image                    Value[string]
	NetMode                                   Value[string]
	Memory, MemoryHigh, Cgroups               Value[string]
	CPUs                                      Value[float64]
	Pids, CPUWeight, IOWeight                 Value[int64]
	AllowHostLoopback                         Value[bool]
	Publish, DNS                              []Value[string]
	ProjectMode                               Value[string]
	EnvAll                                    Value[bool]
	EnvPass                                   []Value[string]
	EnvSet                                    []Value[[2]string]
	Mounts                                    []Value[Mount]
	Seccomp                                   Value[string]
	AllowNestedUserns, Unmask                 Value[bool]
	CapAdd, CapDrop                           []Value[string]
}

// Layer is a profile and the origin of each of its keys.
type Layer struct {
	Profile Profile
	Origin  func(key string) Origin
}

// FileLayer makes a layer of a parsed file.
func FileLayer(f *File) Layer {
	return Layer{Profile: f.Profile, Origin: func(key string) Origin {
		if f.Builtin() {
			return Origin{Kind: "built-in", File: strings.TrimPrefix(f.Path, "builtin:")}
		}
		p := f.keys[key]
		return Origin{Kind: "file", File: f.Display, Line: p.line}
	}}
}

// Base is the built-in default profile, merged.
func Base(ctx Context) *Effective {
	f, _ := Builtin("default", ctx)
	e := &Effective{}
	e.Apply(FileLayer(f))
	return e
}

// Clone copies e, so that a merge can be compared with what it started from.
func (e *Effective) Clone() *Effective {
	c := *e
	c.EnvPass = slices.Clone(e.EnvPass)
	c.EnvSet = slices.Clone(e.EnvSet)
	c.Mounts = slices.Clone(e.Mounts)
	c.Publish = slices.Clone(e.Publish)
	c.DNS = slices.Clone(e.DNS)
	c.CapAdd = slices.Clone(e.CapAdd)
	c.CapDrop = slices.Clone(e.CapDrop)
	return &c
}

// Apply merges a layer over e: first its drops remove inherited list
// entries, then its scalars override, its tables merge key by key, and
// its lists append.
func (e *Effective) Apply(l Layer) {
	p := l.Profile
	for _, t := range p.Drop.Mounts {
		e.Mounts = slices.DeleteFunc(e.Mounts, func(m Value[Mount]) bool { return t == "*" || m.V.Target == t })
	}
	for _, n := range p.Drop.Env {
		e.EnvPass = slices.DeleteFunc(e.EnvPass, func(v Value[string]) bool { return n == "*" || v.V == n })
		e.EnvSet = slices.DeleteFunc(e.EnvSet, func(v Value[[2]string]) bool { return n == "*" || v.V[0] == n })
	}
	scalar := func(dst *Value[string], v *string, key string) {
		if v != nil {
			*dst = Value[string]{*v, l.Origin(key)}
		}
	}
	s := p.Sandbox
	scalar(&e.Hostname, s.Hostname, "sandbox.hostname")
	scalar(&e.Workdir, s.Workdir, "sandbox.workdir")
	scalar(&e.Rootfs, s.Rootfs, "sandbox.rootfs")
	scalar(&e.User, s.User, "sandbox.user")
	scalar(&e.Map, s.Map, "sandbox.map")
	scalar(&e.TTY, s.TTY, "sandbox.tty")
	scalar(&e.Root, s.Root, "sandbox.root")
	scalar(&e.Image, s.Image, "sandbox.image")
	scalar(&e.CowDriver, s.CowDriver, "sandbox.cow_driver")
	scalar(&e.ProjectMode, p.Project.Mode, "project.mode")
	scalar(&e.NetMode, p.Network.Mode, "network.mode")
	lim := p.Limits
	scalar(&e.Memory, lim.Memory, "limits.memory")
	scalar(&e.MemoryHigh, lim.MemoryHigh, "limits.memory_high")
	scalar(&e.Cgroups, lim.Cgroups, "limits.cgroups")
	if lim.CPUs != nil {
		e.CPUs = Value[float64]{*lim.CPUs, l.Origin("limits.cpus")}
	}
	for _, n := range []struct {
		dst *Value[int64]
		v   *int64
		key string
	}{{&e.Pids, lim.Pids, "limits.pids"}, {&e.CPUWeight, lim.CPUWeight, "limits.cpu_weight"}, {&e.IOWeight, lim.IOWeight, "limits.io_weight"}} {
		if n.v != nil {
			*n.dst = Value[int64]{*n.v, l.Origin(n.key)}
		}
	}
	if v := p.Network.AllowHostLoopback; v != nil {
		e.AllowHostLoopback = Value[bool]{*v, l.Origin("network.allow_host_loopback")}
	}
	for i, v := range p.Network.Publish {
		e.Publish = append(e.Publish, Value[string]{v, l.Origin(fmt.Sprintf("network.publish.%d", i))})
	}
	for i, v := range p.Network.DNS {
		e.DNS = append(e.DNS, Value[string]{v, l.Origin(fmt.Sprintf("network.dns.%d", i))})
	}
	if p.Env.All != nil {
		e.EnvAll = Value[bool]{*p.Env.All, l.Origin("env.all")}
	}
	for i, n := range p.Env.Pass {
		if !slices.ContainsFunc(e.EnvPass, func(v Value[string]) bool { return v.V == n }) {
			e.EnvPass = append(e.EnvPass, Value[string]{n, l.Origin(fmt.Sprintf("env.pass.%d", i))})
		}
	}
	for _, k := range sortedKeys(p.Env.Set) {
		v := Value[[2]string]{[2]string{k, p.Env.Set[k]}, l.Origin("env.set." + k)}
		if i := slices.IndexFunc(e.EnvSet, func(x Value[[2]string]) bool { return x.V[0] == k }); i >= 0 {
			e.EnvSet[i] = v
		} else {
			e.EnvSet = append(e.EnvSet, v)
		}
	}
	for i, m := range p.Mount {
		e.Mounts = append(e.Mounts, Value[Mount]{m, l.Origin(fmt.Sprintf("mount.%d", i))})
	}
	sec := p.Security
	scalar(&e.Seccomp, sec.Seccomp, "security.seccomp")
	if v := sec.AllowNestedUserns; v != nil {
		e.AllowNestedUserns = Value[bool]{*v, l.Origin("security.allow_nested_userns")}
	}
	if v := sec.Unmask; v != nil {
		e.Unmask = Value[bool]{*v, l.Origin("security.unmask")}
	}
	for i, c := range sec.CapAdd {
		e.CapAdd = append(e.CapAdd, Value[string]{c, l.Origin(fmt.Sprintf("security.cap_add.%d", i))})
	}
	for i, c := range sec.CapDrop {
		e.CapDrop = append(e.CapDrop, Value[string]{c, l.Origin(fmt.Sprintf("security.cap_drop.%d", i))})
	}
}

// Values are the plain values of a list.
func Values(vs []Value[string]) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.V
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// PassPatterns are the env.pass entries as plain strings.
func (e *Effective) PassPatterns() []string {
	out := make([]string, len(e.EnvPass))
	for i, v := range e.EnvPass {
		out[i] = v.V
	}
	return out
}

// Matches reports whether a variable name is matched by an env.pass
// entry (NAME, or PREFIX* for a prefix).
func Matches(patterns []string, name string) bool {
	for _, p := range patterns {
		if prefix, glob := strings.CutSuffix(p, "*"); glob && strings.HasPrefix(name, prefix) || p == name {
			return true
		}
	}
	return false
}

// Ask is something a project profile wants beyond what the user's own
// configuration already gives.
type Ask struct {
	What string
	From Origin
}

// Asks lists what the layers of a project profile (its extends chain,
// then itself) ask for beyond base, the merge of the built-ins and the
// user's config: read-write binds outside the project, host paths under
// the home directory outside the project, variables from the caller's
// environment, and a writable project where the user's config makes it
// read-only. Tightening asks for nothing.
func Asks(base *Effective, layers []Layer, project, home string) []Ask {
	var asks []Ask
	inside := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return dir != "" && err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	}
	underHome := func(p string) bool { return home != "/" && inside(p, home) && !inside(p, project) }
	patterns := base.PassPatterns()
	for _, l := range layers {
		p := l.Profile
		for i, m := range p.Mount {
			from := l.Origin(fmt.Sprintf("mount.%d", i))
			if m.Type == "tmpfs" || slices.ContainsFunc(base.Mounts, func(b Value[Mount]) bool { return b.V == m }) {
				continue
			}
			var why []string
			if m.Type == "bind" && !inside(m.Source, project) {
				why = append(why, "read-write, outside the project")
			}
			if underHome(m.Source) {
				why = append(why, "under your home directory")
			}
			if len(why) > 0 {
				asks = append(asks, Ask{fmt.Sprintf("%s of %s on %s (%s)", m.Type, m.Source, m.Target, strings.Join(why, "; ")), from})
			}
		}
		if r := p.Sandbox.Rootfs; r != nil && underHome(*r) && (base.Rootfs.V != *r) {
			asks = append(asks, Ask{fmt.Sprintf("root file system %s (under your home directory)", *r), l.Origin("sandbox.rootfs")})
		}
		for i, n := range p.Env.Pass {
			if !Matches(patterns, n) {
				asks = append(asks, Ask{fmt.Sprintf("your environment variable %s", n), l.Origin(fmt.Sprintf("env.pass.%d", i))})
			}
		}
		if a := p.Env.All; a != nil && *a && !base.EnvAll.V {
			asks = append(asks, Ask{"your whole environment (env.all = true)", l.Origin("env.all")})
		}
		if m := p.Network.Mode; m != nil && *m != "none" && *m != base.NetMode.V {
			what := "network access (network.mode = " + strconv.Quote(*m) + ")"
			if *m == "host" {
				what = "the host's network (network.mode = \"host\": its services and abstract unix sockets)"
			}
			asks = append(asks, Ask{what, l.Origin("network.mode")})
		}
		for i, pub := range p.Network.Publish {
			if !slices.ContainsFunc(base.Publish, func(b Value[string]) bool { return b.V == pub }) {
				asks = append(asks, Ask{"a published port " + pub, l.Origin(fmt.Sprintf("network.publish.%d", i))})
			}
		}
		if a := p.Network.AllowHostLoopback; a != nil && *a && !base.AllowHostLoopback.V {
			asks = append(asks, Ask{"the host's loopback services (network.allow_host_loopback)", l.Origin("network.allow_host_loopback")})
		}
		if sc := p.Security.Seccomp; sc != nil && *sc != "default" && *sc != base.Seccomp.V {
			what := "a system call filter of its own (security.seccomp = " + strconv.Quote(*sc) + ")"
			if *sc == "unconfined" {
				what = "no system call filter (security.seccomp = \"unconfined\")"
			}
			asks = append(asks, Ask{what, l.Origin("security.seccomp")})
		}
		if a := p.Security.AllowNestedUserns; a != nil && *a && !base.AllowNestedUserns.V {
			asks = append(asks, Ask{"nested user namespaces (security.allow_nested_userns)", l.Origin("security.allow_nested_userns")})
		}
		if a := p.Security.Unmask; a != nil && *a && !base.Unmask.V {
			asks = append(asks, Ask{"unmasked kernel files (security.unmask)", l.Origin("security.unmask")})
		}
		for i, c := range p.Security.CapAdd {
			if !slices.ContainsFunc(base.CapAdd, func(b Value[string]) bool { return strings.EqualFold(b.V, c) }) {
				asks = append(asks, Ask{"the capability " + c + " (security.cap_add)", l.Origin(fmt.Sprintf("security.cap_add.%d", i))})
			}
		}
		if m := p.Project.Mode; m != nil && *m == "rw" && base.ProjectMode.V == "ro" {
			asks = append(asks, Ask{"a writable project (your config makes it read-only)", l.Origin("project.mode")})
		}
	}
	return asks
}
