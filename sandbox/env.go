package sandbox

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultPath is PATH inside when the caller has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// EnvOptions are the inputs of BuildEnv.
type EnvOptions struct {
	// All passes the whole caller environment (unsafe: tokens and keys
	// come along).
	All bool
	// Pass are the caller's variables to pass: NAME, or PREFIX* for
	// every name with that prefix. The profiles say which (config).
	Pass []string
	// Set are NAME=VALUE pairs.
	Set []string
	// Inside are the variables that describe the sandbox itself (HOME,
	// USER, ...); they override what the caller has.
	Inside map[string]string
}

// BuildEnv computes the command's environment from the caller's.
// Sorted, so that the same inputs always give the same list.
func BuildEnv(caller []string, o EnvOptions) ([]string, error) {
	host := map[string]string{}
	for _, kv := range caller {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			host[k] = v
		}
	}
	env := map[string]string{}
	if o.All {
		for k, v := range host {
			env[k] = v
		}
	} else {
		for k, v := range host {
			if matches(o.Pass, k) {
				env[k] = v
			}
		}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = DefaultPath
	}
	for k, v := range o.Inside {
		env[k] = v
	}
	for _, s := range o.Set {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsRune(s, 0) {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE or NAME", s)
		}
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// matches: NAME, or PREFIX* for a prefix. An unset name is simply not
// there, as podman and docker skip it too.
func matches(patterns []string, name string) bool {
	for _, p := range patterns {
		if prefix, glob := strings.CutSuffix(p, "*"); glob && strings.HasPrefix(name, prefix) || p == name {
			return true
		}
	}
	return false
}
