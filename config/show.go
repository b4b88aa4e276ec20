package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteTOML prints the effective profile as TOML, each value followed by
// a comment that says where it came from.
func (e *Effective) WriteTOML(w io.Writer) {
	line := func(key, val string, from Origin) {
		fmt.Fprintf(w, "%-28s # %s\n", key+" = "+val, from)
	}
	q := strconv.Quote
	fmt.Fprintln(w, "[sandbox]")
	for _, s := range []struct {
		key string
		v   Value[string]
	}{{"hostname", e.Hostname}, {"workdir", e.Workdir}, {"rootfs", e.Rootfs}, {"user", e.User}, {"map", e.Map}, {"tty", e.TTY}, {"root", e.Root}, {"cow_driver", e.CowDriver}, {"image", e.Image}} {
		if s.v.From.Kind != "" {
			line(s.key, q(s.v.V), s.v.From)
		}
	}
	fmt.Fprintln(w, "\n[project]")
	line("mode", q(e.ProjectMode.V), e.ProjectMode.From)
	fmt.Fprintln(w, "\n[network]")
	line("mode", q(e.NetMode.V), e.NetMode.From)
	line("allow_host_loopback", strconv.FormatBool(e.AllowHostLoopback.V), e.AllowHostLoopback.From)
	list := func(key string, vs []Value[string]) {
		if len(vs) > 0 {
			fmt.Fprintf(w, "%s = [\n", key)
			for _, v := range vs {
				fmt.Fprintf(w, "  %-26s # %s\n", q(v.V)+",", v.From)
			}
			fmt.Fprintln(w, "]")
		}
	}
	list("publish", e.Publish)
	list("dns", e.DNS)
	fmt.Fprintln(w, "\n[limits]")
	line("cgroups", q(e.Cgroups.V), e.Cgroups.From)
	for _, s := range []struct {
		key string
		v   Value[string]
	}{{"memory", e.Memory}, {"memory_high", e.MemoryHigh}} {
		if s.v.From.Kind != "" {
			line(s.key, q(s.v.V), s.v.From)
		}
	}
	if e.CPUs.From.Kind != "" {
		line("cpus", strconv.FormatFloat(e.CPUs.V, 'f', -1, 64), e.CPUs.From)
	}
	for _, n := range []struct {
		key string
		v   Value[int64]
	}{{"pids", e.Pids}, {"cpu_weight", e.CPUWeight}, {"io_weight", e.IOWeight}} {
		if n.v.From.Kind != "" {
			line(n.key, strconv.FormatInt(n.v.V, 10), n.v.From)
		}
	}
	fmt.Fprintln(w, "\n[security]")
	line("seccomp", q(e.Seccomp.V), e.Seccomp.From)
	line("allow_nested_userns", strconv.FormatBool(e.AllowNestedUserns.V), e.AllowNestedUserns.From)
	line("unmask", strconv.FormatBool(e.Unmask.V), e.Unmask.From)
	list("cap_add", e.CapAdd)
	list("cap_drop", e.CapDrop)
	fmt.Fprintln(w, "\n[env]")
	line("all", strconv.FormatBool(e.EnvAll.V), e.EnvAll.From)
	fmt.Fprintln(w, "pass = [")
	for _, p := range e.EnvPass {
		fmt.Fprintf(w, "  %-26s # %s\n", q(p.V)+",", p.From)
	}
	fmt.Fprintln(w, "]")
	if len(e.EnvSet) > 0 {
		fmt.Fprintln(w, "\n[env.set]")
		for _, s := range e.EnvSet {
			line(s.V[0], q(s.V[1]), s.From)
		}
	}
	for _, m := range e.Mounts {
		fmt.Fprintf(w, "\n%-28s # %s\n", "[[mount]]", m.From)
		fmt.Fprintf(w, "type = %s\n", q(m.V.Type))
		if m.V.Source != "" {
			fmt.Fprintf(w, "source = %s\n", q(m.V.Source))
		}
		fmt.Fprintf(w, "target = %s\n", q(m.V.Target))
	}
}

type jsonValue struct {
	Value any    `json:"value"`
	From  Origin `json:"from"`
}

// WriteJSON prints the effective profile as JSON: every value as
// {"value": ..., "from": {"kind", "file", "line", "flag"}}. The shape is
// stable, for scripts and CI.
func (e *Effective) WriteJSON(w io.Writer) error {
	jv := func(v Value[string]) *jsonValue {
		if v.From.Kind == "" {
			return nil
		}
		return &jsonValue{v.V, v.From}
	}
	type mount struct {
		Type   string `json:"type"`
		Source string `json:"source,omitempty"`
		Target string `json:"target"`
		From   Origin `json:"from"`
	}
	out := struct {
		Sandbox map[string]*jsonValue `json:"sandbox"`
		Project map[string]*jsonValue `json:"project"`
		Env     struct {
			All  jsonValue            `json:"all"`
			Pass []jsonValue          `json:"pass"`
			Set  map[string]jsonValue `json:"set"`
		} `json:"env"`
		Network struct {
			Mode              *jsonValue  `json:"mode"`
			AllowHostLoopback jsonValue   `json:"allow_host_loopback"`
			Publish           []jsonValue `json:"publish"`
			DNS               []jsonValue `json:"dns"`
		} `json:"network"`
		Security struct {
			Seccomp           *jsonValue  `json:"seccomp"`
			AllowNestedUserns jsonValue   `json:"allow_nested_userns"`
			Unmask            jsonValue   `json:"unmask"`
			CapAdd            []jsonValue `json:"cap_add"`
			CapDrop           []jsonValue `json:"cap_drop"`
		} `json:"security"`
		Mounts []mount `json:"mounts"`
	}{
		Sandbox: map[string]*jsonValue{},
		Project: map[string]*jsonValue{"mode": jv(e.ProjectMode)},
		Mounts:  []mount{},
	}
	for k, v := range map[string]Value[string]{"hostname": e.Hostname, "workdir": e.Workdir, "rootfs": e.Rootfs, "user": e.User, "map": e.Map, "tty": e.TTY, "root": e.Root, "cow_driver": e.CowDriver, "image": e.Image} {
		if j := jv(v); j != nil {
			out.Sandbox[k] = j
		}
	}
	out.Network.Mode = jv(e.NetMode)
	out.Network.AllowHostLoopback = jsonValue{e.AllowHostLoopback.V, e.AllowHostLoopback.From}
	jlist := func(vs []Value[string]) []jsonValue {
		out := []jsonValue{}
		for _, v := range vs {
			out = append(out, jsonValue{v.V, v.From})
		}
		return out
	}
	out.Network.Publish, out.Network.DNS = jlist(e.Publish), jlist(e.DNS)
	out.Security.Seccomp = jv(e.Seccomp)
	out.Security.AllowNestedUserns = jsonValue{e.AllowNestedUserns.V, e.AllowNestedUserns.From}
	out.Security.Unmask = jsonValue{e.Unmask.V, e.Unmask.From}
	out.Security.CapAdd, out.Security.CapDrop = jlist(e.CapAdd), jlist(e.CapDrop)
	out.Env.All = jsonValue{e.EnvAll.V, e.EnvAll.From}
	out.Env.Pass = jlist(e.EnvPass)
	out.Env.Set = map[string]jsonValue{}
	for _, s := range e.EnvSet {
		out.Env.Set[s.V[0]] = jsonValue{s.V[1], s.From}
	}
	for _, m := range e.Mounts {
		out.Mounts = append(out.Mounts, mount{m.V.Type, m.V.Source, m.V.Target, m.From})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// FormatAsks is the refusal text for an untrusted project profile.
func FormatAsks(display string, asks []Ask) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s asks for more than your own configuration allows; review it, then run 'burrow trust' in the project (or pass --trust):", display)
	for _, a := range asks {
		fmt.Fprintf(&b, "\n  - %s  [%s]", a.What, strings.TrimPrefix(a.From.String(), "from "))
	}
	return b.String()
}
