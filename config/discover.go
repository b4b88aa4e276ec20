package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ProjectFile is the name of a project profile.
const ProjectFile = "burrow.toml"

// FindProject looks for burrow.toml in dir and its parents, stopping below
// home and below / (a profile there would make all of it "the project").
// It returns the profile's path, or "".
func FindProject(dir, home string) string {
	home = filepath.Clean(home)
	for d := filepath.Clean(dir); d != "/" && d != home; d = filepath.Dir(d) {
		p := filepath.Join(d, ProjectFile)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return ""
}

// ConfigDir is $XDG_CONFIG_HOME/burrow, by default ~/.config/burrow.
func ConfigDir(getenv func(string) string, home string) string {
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "burrow")
	}
	return filepath.Join(home, ".config", "burrow")
}

// StateDir is $XDG_STATE_HOME/burrow, by default ~/.local/state/burrow.
func StateDir(getenv func(string) string, home string) string {
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "burrow")
	}
	return filepath.Join(home, ".local", "state", "burrow")
}

// UserProfiles lists the names of ~/.config/burrow/profiles/*.toml.
func (c Context) UserProfiles() []string {
	matches, _ := filepath.Glob(filepath.Join(c.ConfigDir, "profiles", "*.toml"))
	var names []string
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".toml"))
	}
	return names
}

// Open finds a profile by reference: a path (it has a slash or ends in
// .toml; relative to dir), a built-in name, or a user profile name.
func (c Context) Open(ref, dir string) (*File, error) {
	if strings.ContainsRune(ref, '/') || strings.HasSuffix(ref, ".toml") {
		p, err := Expand(ref, c, dir)
		if err != nil {
			return nil, err
		}
		return ReadFile(p, c)
	}
	if f, ok := Builtin(ref, c); ok {
		return f, nil
	}
	p := filepath.Join(c.ConfigDir, "profiles", ref+".toml")
	if _, err := os.Stat(p); err == nil {
		return ReadFile(p, c)
	}
	return nil, fmt.Errorf("no profile %q: not a built-in (%s) and no %s", ref, strings.Join(Builtins(), ", "), c.display(p))
}

// Chain returns f preceded by the profiles it extends, base first.
func (c Context) Chain(f *File) ([]*File, error) {
	chain := []*File{f}
	seen := map[string]bool{f.Path: true}
	for cur := f; cur.Profile.Extends != ""; {
		dir := c.Cwd
		if !cur.Builtin() {
			dir = filepath.Dir(cur.Path)
		}
		next, err := c.Open(cur.Profile.Extends, dir)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, cur.errAt("extends", true, "extends = %q: %v", cur.Profile.Extends, err)
		}
		if seen[next.Path] {
			var names []string
			for i := len(chain) - 1; i >= 0; i-- {
				names = append(names, chain[i].Display)
			}
			return nil, cur.errAt("extends", true, "extends = %q: a cycle: %s -> %s", cur.Profile.Extends, strings.Join(names, " -> "), next.Display)
		}
		seen[next.Path] = true
		chain = append([]*File{next}, chain...)
		cur = next
	}
	return chain, nil
}

func (f *File) errAt(key string, atValue bool, format string, args ...any) error {
	p := f.keys[key]
	if vp, ok := f.values[key]; atValue && ok {
		p = vp
	}
	return &Error{File: f.Display, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}
