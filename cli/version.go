package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	ucli "github.com/urfave/cli/v2"
)

// version is set by the Makefile: -ldflags "-X ...cli.version=v0.1.0".
var version = "dev"

// Version is burrow's version with the commit it was built from.
func Version() string { return version + " (" + commit() + ")" }

func commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	return rev + dirty
}

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "version",
		Usage: "print burrow's version, commit and Go version",
		Action: func(c *ucli.Context) error {
			fmt.Fprintf(c.App.Writer, "burrow %s\ncommit %s\ngo %s %s/%s\n", version, commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
