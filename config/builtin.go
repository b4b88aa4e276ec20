package config

import (
	"embed"
	"sort"
	"strings"
)

//go:embed builtin/*.toml
var builtinFS embed.FS

// Builtins lists the names of the profiles that ship in the binary.
func Builtins() []string {
	entries, _ := builtinFS.ReadDir("builtin")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".toml"))
	}
	sort.Strings(names)
	return names
}

// Builtin returns a built-in profile, parsed.
func Builtin(name string, ctx Context) (*File, bool) {
	data, err := builtinFS.ReadFile("builtin/" + name + ".toml")
	if err != nil {
		return nil, false
	}
	f, err := Parse("builtin:"+name, "built-in "+name, data, ctx)
	if err != nil {
		panic("built-in profile " + name + ": " + err.Error())
	}
	return f, true
}
