package sandbox

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultPath is PATH inside when the caller has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// passed are the caller's variables a sandbox gets by default: they shape
// how programs talk to the terminal and the user, and none holds a secret.
var passed = []string{"PATH", "TERM", "COLORTERM", "LANG", "TZ", "NO_COLOR"}

// EnvOptions are the inputs of BuildEnv.
type EnvOptions struct {
	// All passes the whole caller environment (unsafe: tokens and keys
	// come along).
	All bool
	// Set are --env arguments: "K=V" sets, "K" passes the caller's K.
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
			if strings.HasPrefix(k, "LC_") || contains(passed, k) {
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
		k, v, hasValue := strings.Cut(s, "=")
		if k == "" || strings.ContainsAny(k, "\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("--env %q: want NAME=VALUE or NAME", s)
		}
		if !hasValue {
			hv, ok := host[k]
			if !ok {
				// podman and docker skip an unset variable too.
				continue
			}
			v = hv
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
