package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/burrow-sandbox/burrow/config"
	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

// profileOpts are the flags that choose profiles.
type profileOpts struct {
	Profile   string // --profile FILE|NAME
	NoProfile bool   // --no-profile
	Trust     bool   // --trust or BURROW_TRUST=1
}

// loaded is the merge of every layer, lowest first: the built-in default,
// the user's config, the project profile, --profile, the flags.
type loaded struct {
	ctx       config.Context
	eff       *config.Effective
	project   string         // the project directory
	projChain []*config.File // the project profile and what it extends; nil without one
	asks      []config.Ask   // what the project profile asks beyond the user's config
	files     []string       // every profile read, for --debug
}

func contextFor(h hostInfo) config.Context {
	return config.Context{Home: h.Home, Cwd: h.Cwd, ConfigDir: config.ConfigDir(os.Getenv, h.Home)}
}

func loadProfiles(h hostInfo, o profileOpts, flags config.Layer) (*loaded, error) {
	l := &loaded{ctx: contextFor(h), project: h.Cwd}
	projFile := ""
	if !o.NoProfile {
		if projFile = config.FindProject(h.Cwd, h.Home); projFile != "" {
			l.project = filepath.Dir(projFile)
		}
	}
	l.ctx.Project = l.project
	l.eff = config.Base(l.ctx)
	apply := func(chain []*config.File) []config.Layer {
		var layers []config.Layer
		for _, f := range chain {
			if f.Path == "builtin:default" {
				continue // the base every merge starts from
			}
			layer := config.FileLayer(f)
			l.eff.Apply(layer)
			layers = append(layers, layer)
			l.files = append(l.files, f.Display)
		}
		return layers
	}
	openChain := func(f *config.File, err error) ([]*config.File, error) {
		if err != nil {
			return nil, err
		}
		return l.ctx.Chain(f)
	}
	userConfig := filepath.Join(l.ctx.ConfigDir, "config.toml")
	if _, err := os.Stat(userConfig); err == nil {
		chain, err := openChain(config.ReadFile(userConfig, l.ctx))
		if err != nil {
			return nil, err
		}
		apply(chain)
	}
	base := l.eff.Clone()
	if projFile != "" {
		chain, err := openChain(config.ReadFile(projFile, l.ctx))
		if err != nil {
			return nil, err
		}
		l.projChain = chain
		l.asks = config.Asks(base, apply(chain), l.project, h.Home)
	}
	if o.Profile != "" {
		f, err := l.ctx.Open(o.Profile, h.Cwd)
		if err != nil {
			var pe *config.Error
			if !errors.As(err, &pe) {
				err = fmt.Errorf("--profile %s: %w", o.Profile, err)
			}
			return nil, err
		}
		chain, err := l.ctx.Chain(f)
		if err != nil {
			return nil, err
		}
		apply(chain)
	}
	l.eff.Apply(flags)
	return l, nil
}

// checkTrust refuses a project profile that asks for more than the
// user's config allows until the user trusts it (or overrides for CI).
func (l *loaded) checkTrust(override bool) error {
	if len(l.asks) == 0 || override {
		return nil
	}
	ok, err := trustStore(l.ctx).Trusted(l.projChain)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return errors.New(config.FormatAsks(l.projChain[len(l.projChain)-1].Display, l.asks))
}

func trustStore(ctx config.Context) config.TrustStore {
	return config.TrustStore{Path: filepath.Join(config.StateDir(os.Getenv, ctx.Home), "trust.json")}
}

// flagLayer turns the flags that were given into the top layer.
func flagLayer(c *ucli.Context, lists *runLists, cwd string) (config.Layer, error) {
	mounts, envs := lists.mounts, lists.envs
	var p config.Profile
	origin := map[string]string{}
	str := func(flag, key string, dst **string) {
		if c.IsSet(flag) {
			v := c.String(flag)
			*dst = &v
			origin[key] = "--" + flag
		}
	}
	str("hostname", "sandbox.hostname", &p.Sandbox.Hostname)
	str("workdir", "sandbox.workdir", &p.Sandbox.Workdir)
	str("rootfs", "sandbox.rootfs", &p.Sandbox.Rootfs)
	str("user", "sandbox.user", &p.Sandbox.User)
	str("map", "sandbox.map", &p.Sandbox.Map)
	str("project", "project.mode", &p.Project.Mode)
	str("root", "sandbox.root", &p.Sandbox.Root)
	str("image", "sandbox.image", &p.Sandbox.Image)
	str("cow-driver", "sandbox.cow_driver", &p.Sandbox.CowDriver)
	str("net", "network.mode", &p.Network.Mode)
	str("memory", "limits.memory", &p.Limits.Memory)
	str("memory-high", "limits.memory_high", &p.Limits.MemoryHigh)
	str("cgroups", "limits.cgroups", &p.Limits.Cgroups)
	if c.IsSet("cpus") {
		v := c.Float64("cpus")
		p.Limits.CPUs, origin["limits.cpus"] = &v, "--cpus"
	}
	for _, n := range []struct {
		flag, key string
		dst       **int64
	}{{"pids", "limits.pids", &p.Limits.Pids}, {"cpu-weight", "limits.cpu_weight", &p.Limits.CPUWeight}, {"io-weight", "limits.io_weight", &p.Limits.IOWeight}} {
		if c.IsSet(n.flag) {
			v := c.Int64(n.flag)
			*n.dst, origin[n.key] = &v, "--"+n.flag
		}
	}
	if c.Bool("allow-host-loopback") {
		v := true
		p.Network.AllowHostLoopback, origin["network.allow_host_loopback"] = &v, "--allow-host-loopback"
	}
	if c.IsSet("seccomp") {
		v := c.String("seccomp")
		if v != "default" && v != "unconfined" {
			if !filepath.IsAbs(v) {
				v = filepath.Join(cwd, v)
			}
			if fi, err := os.Stat(v); err != nil || fi.IsDir() {
				return config.Layer{}, fmt.Errorf("--seccomp %q: not a file; want default, unconfined, or a profile in the OCI/Docker JSON format", c.String("seccomp"))
			}
		}
		p.Security.Seccomp, origin["security.seccomp"] = &v, "--seccomp"
	}
	if c.Bool("allow-nested-userns") {
		v := true
		p.Security.AllowNestedUserns, origin["security.allow_nested_userns"] = &v, "--allow-nested-userns"
	}
	if c.Bool("unmask") {
		v := true
		p.Security.Unmask, origin["security.unmask"] = &v, "--unmask"
	}
	for _, l := range []struct {
		key, flag string
		vals      []string
		dst       *[]string
	}{
		{"security.cap_add", "--cap-add", lists.capAdd, &p.Security.CapAdd},
		{"security.cap_drop", "--cap-drop", lists.capDrop, &p.Security.CapDrop},
		{"network.publish", "--publish", lists.publish, &p.Network.Publish},
		{"network.dns", "--dns", lists.dns, &p.Network.DNS},
	} {
		for _, v := range l.vals {
			origin[fmt.Sprintf("%s.%d", l.key, len(*l.dst))] = l.flag
			*l.dst = append(*l.dst, v)
		}
	}
	if m := p.Project.Mode; m != nil && *m != "rw" && *m != "ro" && *m != "cow" {
		return config.Layer{}, fmt.Errorf("--project %q: want rw, ro or cow", *m)
	}
	if m := p.Sandbox.Root; m != nil && *m != "ro" && *m != "cow" {
		return config.Layer{}, fmt.Errorf("--root %q: want ro or cow", *m)
	}
	if m := p.Sandbox.CowDriver; m != nil && *m != "auto" && *m != "native" && *m != "fuse" {
		return config.Layer{}, fmt.Errorf("--cow-driver %q: want auto, native or fuse", *m)
	}
	tty, notty := c.Bool("tty"), c.Bool("no-tty")
	switch {
	case tty && notty:
		return config.Layer{}, errors.New("--tty and --no-tty exclude each other")
	case tty:
		v := "always"
		p.Sandbox.TTY, origin["sandbox.tty"] = &v, "--tty"
	case notty:
		v := "never"
		p.Sandbox.TTY, origin["sandbox.tty"] = &v, "--no-tty"
	}
	if c.Bool("env-all") {
		v := true
		p.Env.All, origin["env.all"] = &v, "--env-all"
	}
	for _, e := range envs {
		k, v, hasValue := strings.Cut(e, "=")
		if k == "" || strings.ContainsRune(e, 0) {
			return config.Layer{}, fmt.Errorf("--env %q: want NAME=VALUE or NAME", e)
		}
		if hasValue {
			if p.Env.Set == nil {
				p.Env.Set = map[string]string{}
			}
			p.Env.Set[k] = v
			origin["env.set."+k] = "--env"
		} else {
			origin[fmt.Sprintf("env.pass.%d", len(p.Env.Pass))] = "--env"
			p.Env.Pass = append(p.Env.Pass, k)
		}
	}
	for _, m := range mounts {
		um, err := checkMount(m, cwd)
		if err != nil {
			return config.Layer{}, err
		}
		typ := string(um.Kind)
		if um.ReadOnly {
			typ = "ro-bind"
		}
		origin[fmt.Sprintf("mount.%d", len(p.Mount))] = m.flag()
		p.Mount = append(p.Mount, config.Mount{Type: typ, Source: um.Source, Target: um.Target})
	}
	return config.Layer{Profile: p, Origin: func(key string) config.Origin {
		return config.Origin{Kind: "flag", Flag: origin[key]}
	}}, nil
}

// label names a value for messages: the flag as typed, or the profile key
// and where it was set.
func label(v config.Value[string], flag, key string) string {
	if v.From.Kind == "flag" {
		return flag + " " + v.V
	}
	return fmt.Sprintf("%s = %q (%s)", key, v.V, v.From)
}

// requestFrom turns the merged profile into a run request.
func requestFrom(l *loaded, args []string) request {
	e := l.eff
	r := request{
		Args:        args,
		Map:         e.Map.V,
		User:        e.User.V,
		Hostname:    e.Hostname.V,
		Workdir:     e.Workdir.V,
		Rootfs:      e.Rootfs.V,
		TTY:         e.TTY.V,
		EnvAll:      e.EnvAll.V,
		EnvPass:     e.PassPatterns(),
		Project:     l.project,
		ProjectMode: e.ProjectMode.V,
		Root:        e.Root.V,
		Image:       e.Image.V,
		NetMode:     e.NetMode.V,
		AllowLo:     e.AllowHostLoopback.V,
		CowDriver:   e.CowDriver.V,
		Seccomp:     e.Seccomp.V,
		NestedUsers: e.AllowNestedUserns.V,
		Unmask:      e.Unmask.V,
		CapAdd:      config.Values(e.CapAdd),
		CapDrop:     config.Values(e.CapDrop),
		Labels: map[string]string{
			"map":      label(e.Map, "--map", "sandbox.map"),
			"user":     label(e.User, "--user", "sandbox.user"),
			"hostname": label(e.Hostname, "--hostname", "sandbox.hostname"),
			"workdir":  label(e.Workdir, "--workdir", "sandbox.workdir"),
			"rootfs":   label(e.Rootfs, "--rootfs", "sandbox.rootfs"),
			"seccomp":  label(e.Seccomp, "--seccomp", "security.seccomp"),
		},
	}
	for _, s := range e.EnvSet {
		r.EnvSet = append(r.EnvSet, s.V[0]+"="+s.V[1])
	}
	for _, p := range e.Publish {
		r.Publish = append(r.Publish, p.V)
	}
	for _, d := range e.DNS {
		r.DNS = append(r.DNS, d.V)
	}
	for _, m := range e.Mounts {
		um := sandbox.UserMount{Kind: sandbox.Bind, Source: m.V.Source, Target: m.V.Target, ReadOnly: m.V.Type == "ro-bind"}
		if m.V.Type == "tmpfs" {
			um = sandbox.UserMount{Kind: sandbox.Tmpfs, Target: m.V.Target}
		}
		r.Mounts = append(r.Mounts, um)
	}
	return r
}
