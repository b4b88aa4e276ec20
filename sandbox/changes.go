package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/burrow-sandbox/burrow/fuseoverlay"
)

// Change is a path a sandbox changed, placed in the sandbox: Path is
// absolute inside it, Layer the overlay that holds it.
type Change struct {
	Kind  string `json:"kind"` // A, M or D
	Path  string `json:"path"`
	Dir   bool   `json:"dir,omitempty"`
	Layer string `json:"layer"`
	// Old and New are the host files of the two versions (lower, upper).
	Old string `json:"-"`
	New string `json:"-"`
}

// ConflictError names host files changed since a sandbox started.
type ConflictError = fuseoverlay.ConflictError

// Changes lists what the overlays of a sandbox (state dir, st) changed,
// limited to paths under filter when it is not empty.
func Changes(dir string, st State, filter []string) ([]Change, error) {
	keys := make([]string, 0, len(st.Layers))
	for k := range st.Layers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		li := st.Layers[k]
		upper := filepath.Join(dir, "upper", k)
		cs, err := fuseoverlay.Changes(upper, li.Lower)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read the changes of %s: %w", li.Target, err)
		}
		for _, c := range cs {
			p := path.Join(li.Target, c.Path)
			if Under(p, filter) {
				out = append(out, Change{Kind: string(c.Kind), Path: p, Dir: c.Dir, Layer: k,
					Old: filepath.Join(li.Lower, c.Path), New: filepath.Join(upper, c.Path)})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Under reports whether p is one of dirs or below one; an empty list
// takes everything.
func Under(p string, dirs []string) bool {
	if len(dirs) == 0 {
		return true
	}
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// ApplyProject copies the changes of a sandbox's copy-on-write project
// (those under filter) to the host; see fuseoverlay.Apply. Conflicts are
// host files modified since the sandbox was created.
func ApplyProject(dir string, st State, filter []string, force, dryRun bool) ([]Change, error) {
	li, ok := st.Layers["project"]
	if !ok {
		return nil, fmt.Errorf("sandbox %s has no copy-on-write project to apply (run it with --project=cow)", st.Name)
	}
	for _, f := range filter {
		if !Under(f, []string{li.Target}) {
			return nil, fmt.Errorf("%s is outside the project %s: only project files can be applied", f, li.Target)
		}
	}
	upper := filepath.Join(dir, "upper", "project")
	all, err := fuseoverlay.Changes(upper, li.Lower)
	if err != nil {
		return nil, err
	}
	var picked []fuseoverlay.Change
	for _, c := range all {
		if Under(path.Join(li.Target, c.Path), filter) {
			picked = append(picked, c)
		}
	}
	done, err := fuseoverlay.Apply(upper, li.Lower, picked, fuseoverlay.ApplyOptions{Since: st.Created, Force: force, DryRun: dryRun})
	var ce *fuseoverlay.ConflictError
	if errors.As(err, &ce) {
		for i, p := range ce.Paths {
			ce.Paths[i] = path.Join(li.Target, p)
		}
	}
	out := make([]Change, len(done))
	for i, c := range done {
		out[i] = Change{Kind: string(c.Kind), Path: path.Join(li.Target, c.Path), Dir: c.Dir, Layer: "project"}
	}
	return out, err
}
