package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/burrow-sandbox/burrow/fuseoverlay"
	"golang.org/x/sys/unix"
)

// cow chooses a driver for each overlay of a sandbox.
type cow struct {
	driver fuseoverlay.Driver
	probe  string // "" (not probed yet), "ok", or why native failed
	dir    string // where to probe
	log    *slog.Logger
	notice func(string)
	probed func(string) // reports a fresh probe result to the parent
}

// nativeErr is nil when the native driver may be used.
func (c *cow) nativeErr() error {
	if c.probe == "" {
		c.probe = "ok"
		if err := fuseoverlay.Probe(c.dir); err != nil {
			c.probe = err.Error()
		}
		c.probed(c.probe)
		c.log.Debug("probed native overlay", "result", c.probe)
	}
	if c.probe == "ok" {
		return nil
	}
	return errors.New(c.probe)
}

// overlay returns a detached mount of op's overlay. The native driver
// makes one directly; fuse-overlayfs mounts on the op's private stage
// directory, which is then cloned. Both happen before the new root hides
// any host path.
//
// The order of drivers: the one forced by --cow-driver; for the host's
// system directories (op.Squash) fuse-overlayfs with squash_to_root
// first, because their files belong to host root, which the user
// namespace does not map: a native overlay shows them as nobody's and
// refuses every change to them; elsewhere (the project, an image, whose
// files are the user's) native first.
func (c *cow) overlay(op Op) (int, error) {
	order := []fuseoverlay.Driver{fuseoverlay.Native, fuseoverlay.Fuse}
	switch {
	case c.driver == fuseoverlay.Native || c.driver == fuseoverlay.Fuse:
		order = []fuseoverlay.Driver{c.driver}
	case op.Squash:
		order = []fuseoverlay.Driver{fuseoverlay.Fuse, fuseoverlay.Native}
	}
	l := fuseoverlay.Layers{Lower: []string{op.Source}, Upper: op.Upper, Work: op.Work, SquashToRoot: op.Squash}
	var why []string
	for _, d := range order {
		var fd int
		var err error
		if d == fuseoverlay.Native {
			if err = c.nativeErr(); err == nil {
				fd, err = fuseoverlay.MountNative(l)
			}
		} else if err = fuseoverlay.MountFuse(l, op.Stage); err == nil {
			fd, err = unix.OpenTree(unix.AT_FDCWD, op.Stage, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		}
		if err == nil {
			c.log.Debug("overlay", "target", op.Target, "driver", string(d), "squash", op.Squash && d == fuseoverlay.Fuse, "passed over", strings.Join(why, "; "))
			return fd, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", d, err))
	}
	return -1, fmt.Errorf("%w: %s", fuseoverlay.ErrUnsupported, strings.Join(why, "; "))
}
