package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// CommandsMarkdown is docs/commands.md, generated from the command
// definitions (a test keeps the file in sync).
func CommandsMarkdown() string {
	app := newApp(io.Discard, io.Discard)
	var b strings.Builder
	b.WriteString("# Commands\n\nGenerated from burrow's command definitions (`cli/commandsdoc.go`; a test keeps this file in\nsync). Exit statuses: 0 success; the command's own status for `run` and `shell` (128+N after\nsignal N, 126 not executable, 127 not found); 1 for `doctor` with a FAIL and `profile check` with an\nerror; 125 for every error of burrow itself.\n\nGlobal option: `--debug` prints what burrow does, stage by stage, on stderr.\n")
	var walk func(prefix string, cmds []*ucli.Command)
	walk = func(prefix string, cmds []*ucli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			name := strings.TrimSpace(prefix + " " + c.Name)
			fmt.Fprintf(&b, "\n## burrow %s\n\n%s.\n", name, strings.TrimSuffix(c.Usage, "."))
			if c.UsageText != "" {
				fmt.Fprintf(&b, "\n```\n%s\n```\n", c.UsageText)
			}
			if c.Description != "" {
				desc := c.Description
				if i := strings.Index(desc, "\nEXAMPLES:"); i >= 0 {
					desc = desc[:i]
				}
				fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(desc))
			}
			var rows []string
			for _, f := range c.Flags {
				if v, ok := f.(ucli.VisibleFlag); ok && !v.IsVisible() {
					continue
				}
				names := f.Names()
				spell := make([]string, len(names))
				for i, n := range names {
					if len(n) == 1 {
						spell[i] = "-" + n
					} else {
						spell[i] = "--" + n
					}
				}
				usage := ""
				if d, ok := f.(ucli.DocGenerationFlag); ok {
					usage = d.GetUsage()
				}
				rows = append(rows, fmt.Sprintf("| `%s` | %s |", strings.Join(spell, "`, `"), strings.ReplaceAll(usage, "|", "\\|")))
			}
			if len(rows) > 0 {
				sort.Strings(rows)
				b.WriteString("\n| Option | Meaning |\n|---|---|\n" + strings.Join(rows, "\n") + "\n")
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", app.Commands)
	return b.String()
}
