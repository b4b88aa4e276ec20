package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportDirection keeps the design's layering: main → cli →
// {config, sandbox}; sandbox → leaf packages; leaves import no other
// burrow package, and each outside dependency lives in one package.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/burrow-sandbox/burrow/"
	allowed := map[string][]string{
		"cli":         {"sandbox", "userns", "config", "slirp", "cgroup", "logfile", "seccomp"},
		"logfile":     {},
		"seccomp":     {},
		"cgroup":      {},
		"slirp":       {},
		"sandbox":     {"userns", "fuseoverlay", "slirp", "cgroup", "image", "seccomp"},
		"image":       {},
		"fuseoverlay": {},
		"userns":      {},
		"config":      {},
	}
	owner := map[string]string{
		"github.com/urfave/cli":                      "cli",
		"github.com/pelletier/go-toml":               "config",
		"github.com/godbus/dbus":                     "cgroup",
		"github.com/coreos/go-systemd":               "cgroup",
		"github.com/rootless-containers/rootlesskit": "slirp",
		"github.com/klauspost/compress":              "image",
	}
	for pkg, ok := range allowed {
		files, _ := filepath.Glob(filepath.Join(pkg, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || generator(f) {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range ast.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if inner, found := strings.CutPrefix(path, mod); found {
					if !contains(ok, strings.SplitN(inner, "/", 2)[0]) {
						t.Errorf("%s imports %s: against the layering", f, path)
					}
				}
				for prefix, o := range owner {
					if strings.HasPrefix(path, prefix) && o != pkg {
						t.Errorf("%s imports %s, which only %s may use", f, path, o)
					}
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// generator reports whether f is a go:generate program (//go:build
// ignore): it is not part of the package, and may import it.
func generator(f string) bool {
	b, err := os.ReadFile(f)
	return err == nil && strings.HasPrefix(string(b), "//go:build ignore")
}
