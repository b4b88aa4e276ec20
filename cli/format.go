package cli

import (
	"encoding/json"
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

// formatFlag is --format of a command that lists or describes: text (the
// given name) for people, json for scripts.
func formatFlag(text string) ucli.Flag {
	return &ucli.StringFlag{Name: "format", Value: text, Usage: text + " or json"}
}

// output writes v as indented JSON under --format json, or calls write
// under the command's text format; any other format is an error.
func output(c *ucli.Context, text string, v any, write func() error) error {
	switch f := c.String("format"); f {
	case "json":
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case text:
		return write()
	default:
		return fail(fmt.Errorf("--format %q: want %s or json", f, text))
	}
}
