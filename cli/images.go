package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/burrow-sandbox/burrow/sandbox"
	"github.com/burrow-sandbox/burrow/userns"
	ucli "github.com/urfave/cli/v2"
)

// imageInfo is an image's image.json.
type imageInfo struct {
	Name    string    `json:"name"`
	Source  string    `json:"source"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

func imagesDir(h hostInfo) string { return filepath.Join(dataDir(h.Home), "images") }

// imageRootfs is the lower layer of sandboxes that run on an image.
func imageRootfs(h hostInfo, name string) (string, error) {
	dir := filepath.Join(imagesDir(h), name)
	if _, err := os.Stat(filepath.Join(dir, "image.json")); err != nil {
		return "", fmt.Errorf("no image %q; see 'burrow images', or import one: burrow import ARCHIVE %s", name, name)
	}
	return filepath.Join(dir, "rootfs"), nil
}

func importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "make an image from a root file system: a tar archive (.tar, .tar.gz, .tar.zst) or a directory",
		UsageText: "burrow import SOURCE NAME",
		Description: `Unpacks inside a user namespace, so that owners in the archive (0, 1000, ...)
stay the same IDs inside sandboxes. Device nodes are skipped; entries that would
land outside the image are refused; both are counted. A failed import leaves
nothing behind. Works with docker export, mmdebstrap and debootstrap output.`,
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			if c.NArg() != 2 {
				return fail(errors.New("want SOURCE and NAME: burrow import rootfs.tar.gz debian"))
			}
			src, name := c.Args().Get(0), c.Args().Get(1)
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			if err := sandbox.ValidName(name); err != nil {
				return fail(fmt.Errorf("image %w", err))
			}
			if !filepath.IsAbs(src) {
				src = filepath.Join(h.Cwd, src)
			}
			if _, err := os.Stat(src); err != nil {
				return fail(fmt.Errorf("import %s: no such file or directory", c.Args().Get(0)))
			}
			final := filepath.Join(imagesDir(h), name)
			if _, err := os.Stat(final); err == nil {
				return fail(fmt.Errorf("image %s exists; remove it first: burrow rmi %s", name, name))
			}
			log := logger(c, c.App.ErrWriter)
			sweepImports(h, log)
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			tmp := filepath.Join(imagesDir(h), ".import-"+hex.EncodeToString(b))
			if err := os.MkdirAll(tmp, 0o700); err != nil {
				return fail(err)
			}
			plan, err := userns.MakePlan(userns.Auto, h.Caller, userns.System)
			if err != nil {
				return fail(err)
			}
			devnull, _ := os.Open(os.DevNull)
			defer devnull.Close()
			bar := newProgress(c.App.ErrWriter, "importing "+name)
			_, err = sandbox.Run(&sandbox.Spec{Hostname: "burrow", Import: &sandbox.Import{
				Source: src, Dest: filepath.Join(tmp, "rootfs"), MaxID: int(userns.Size(plan.UIDs) - 1),
			}}, sandbox.Options{
				Plan: plan, Log: log, ProcSys: "/proc/sys", Stdin: devnull, Stdout: devnull, Stderr: os.Stderr,
				Progress: bar.update,
				Notice:   func(s string) { bar.done(); fmt.Fprintf(c.App.ErrWriter, "burrow: %s\n", s) },
			})
			bar.done()
			if err != nil {
				_ = removeState([]string{tmp}, h, log)
				return fail(err)
			}
			info := imageInfo{Name: name, Source: src, Created: time.Now().UTC(), Size: duSize(filepath.Join(tmp, "rootfs"))}
			j, _ := json.MarshalIndent(info, "", "  ")
			if err := os.WriteFile(filepath.Join(tmp, "image.json"), append(j, '\n'), 0o644); err != nil {
				_ = removeState([]string{tmp}, h, log)
				return fail(err)
			}
			if err := os.Rename(tmp, final); err != nil {
				_ = removeState([]string{tmp}, h, log)
				return fail(err)
			}
			fmt.Fprintln(c.App.Writer, name)
			return nil
		},
	}
}

// sweepImports removes what killed imports left.
func sweepImports(h hostInfo, log interface{ Warn(string, ...any) }) {
	left, _ := filepath.Glob(filepath.Join(imagesDir(h), ".import-*"))
	for _, d := range left {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
			if err := sandbox.RemoveTree(d); err != nil {
				log.Warn("cannot remove " + d + ": " + err.Error())
			}
		}
	}
}

func duSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func listImages(h hostInfo) []imageInfo {
	entries, _ := os.ReadDir(imagesDir(h))
	var out []imageInfo
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(imagesDir(h), e.Name(), "image.json"))
		var info imageInfo
		if err == nil && json.Unmarshal(b, &info) == nil {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func imagesCommand() *ucli.Command {
	return &ucli.Command{
		Name:         "images",
		Usage:        "list images",
		UsageText:    "burrow images [--format json]",
		Flags:        []ucli.Flag{formatFlag("table")},
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			imgs := listImages(h)
			if imgs == nil {
				imgs = []imageInfo{}
			}
			return output(c, "table", imgs, func() error {
				fmt.Fprintf(c.App.Writer, "%-24s %10s  %s\n", "NAME", "SIZE", "CREATED")
				for _, i := range imgs {
					fmt.Fprintf(c.App.Writer, "%-24s %10s  %s\n", i.Name, human(i.Size), i.Created.Local().Format("2006-01-02 15:04"))
				}
				return nil
			})
		},
	}
}

func rmiCommand() *ucli.Command {
	return &ucli.Command{
		Name:         "rmi",
		Usage:        "remove images",
		UsageText:    "burrow rmi NAME...",
		OnUsageError: usageError,
		Action: func(c *ucli.Context) error {
			if !c.Args().Present() {
				return fail(errors.New("give the NAME of an image to remove"))
			}
			h, err := currentHost()
			if err != nil {
				return fail(err)
			}
			for _, name := range c.Args().Slice() {
				if _, err := imageRootfs(h, name); err != nil {
					return fail(err)
				}
				if err := removeState([]string{filepath.Join(imagesDir(h), name)}, h, logger(c, c.App.ErrWriter)); err != nil {
					return fail(err)
				}
				fmt.Fprintln(c.App.Writer, name)
			}
			return nil
		},
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progress draws "LABEL: 45% (12.3 MiB of 27.0 MiB)": redrawn in place on
// a terminal, a line at each quarter otherwise.
type progress struct {
	w     io.Writer
	label string
	tty   bool
	last  int
	drawn bool
}

func newProgress(w io.Writer, label string) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, label: label, tty: ok && sandbox.IsTerminal(f), last: -1}
}

func (p *progress) update(s string) {
	done, total, ok := strings.Cut(s, "/")
	if !ok {
		return
	}
	d, _ := strconv.ParseInt(done, 10, 64)
	t, _ := strconv.ParseInt(total, 10, 64)
	if t <= 0 {
		return
	}
	pct := int(d * 100 / t)
	line := fmt.Sprintf("%s: %3d%% (%s of %s)", p.label, pct, human(d), human(t))
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", line)
		p.drawn = true
	case pct/25 != p.last/25 || p.last < 0:
		fmt.Fprintln(p.w, line)
	}
	p.last = pct
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
