package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/burrow-sandbox/burrow/config"
	"github.com/burrow-sandbox/burrow/sandbox"
	ucli "github.com/urfave/cli/v2"
)

func fail(err error) error { return ucli.Exit(err.Error(), sandbox.CodeSetup) }

func profileCommand() *ucli.Command {
	var lists runLists
	showFlags := append(runFlags(&lists), &ucli.StringFlag{Name: "format", Value: "toml", Usage: "toml (annotated with origins) or json"})
	return &ucli.Command{
		Name:  "profile",
		Usage: "write, show, check and list profiles (burrow.toml)",
		Description: `Profiles are TOML files: built-in ones (default, strict), your config
($XDG_CONFIG_HOME/burrow/config.toml), a project's burrow.toml, and named
profiles in ~/.config/burrow/profiles/NAME.toml. See docs/profiles.md.`,
		OnUsageError: usageError,
		Subcommands: []*ucli.Command{
			{
				Name:         "init",
				Usage:        "write a commented burrow.toml for the current directory",
				UsageText:    "burrow profile init [--force]",
				Flags:        []ucli.Flag{&ucli.BoolFlag{Name: "force", Usage: "overwrite an existing burrow.toml"}},
				OnUsageError: usageError,
				Action:       profileInit,
			},
			{
				Name:      "show",
				Usage:     "print the effective profile, each value with where it came from",
				UsageText: "burrow profile show [--format toml|json] [RUN OPTIONS]",
				Description: `Merges the built-in default, your config, the project's burrow.toml, --profile
and any run options given here, exactly as 'burrow run' would.`,
				Flags:        showFlags,
				OnUsageError: usageError,
				Action:       func(c *ucli.Context) error { return profileShow(c, &lists) },
			},
			{
				Name:         "check",
				Usage:        "validate a profile (default: the project's) and what it extends",
				UsageText:    "burrow profile check [FILE]",
				OnUsageError: usageError,
				Action:       profileCheck,
			},
			{
				Name:         "list",
				Usage:        "list the built-in and your profiles",
				OnUsageError: usageError,
				Action:       profileList,
			},
			{
				Name:   "schema",
				Usage:  "print the JSON Schema of burrow.toml",
				Hidden: true,
				Action: func(c *ucli.Context) error { _, err := c.App.Writer.Write(config.Schema()); return err },
			},
		},
	}
}

// schemaFile is where profile init installs the schema that the template
// points editors at: the copy matches this burrow's profile format.
func schemaFile(ctx config.Context) string {
	data := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(data) {
		data = filepath.Join(ctx.Home, ".local", "share")
	}
	return filepath.Join(data, "burrow", "burrow.schema.json")
}

func profileInit(c *ucli.Context) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	ctx := contextFor(h)
	path := filepath.Join(h.Cwd, config.ProjectFile)
	if _, err := os.Stat(path); err == nil && !c.Bool("force") {
		return fail(fmt.Errorf("%s exists; edit it, or pass --force to replace it", config.ProjectFile))
	}
	schema := schemaFile(ctx)
	if err := os.MkdirAll(filepath.Dir(schema), 0o755); err == nil {
		_ = os.WriteFile(schema, config.Schema(), 0o644)
	}
	if err := os.WriteFile(path, []byte(config.Template(schema)), 0o644); err != nil {
		return fail(fmt.Errorf("write %s: %w", path, err))
	}
	fmt.Fprintf(c.App.Writer, "wrote %s (schema: %s)\n", path, schema)
	return nil
}

func profileShow(c *ucli.Context, lists *runLists) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	l, err := effective(c, h, lists)
	if err != nil {
		return fail(err)
	}
	switch c.String("format") {
	case "toml":
		fmt.Fprintf(c.App.Writer, "# project: %s\n", l.project)
		l.eff.WriteTOML(c.App.Writer)
		if len(l.asks) > 0 {
			trusted, _ := trustStore(l.ctx).Trusted(l.projChain)
			fmt.Fprintf(c.App.Writer, "\n# the project profile asks for (trusted: %v):\n", trusted)
			for _, a := range l.asks {
				fmt.Fprintf(c.App.Writer, "#   %s  [%s]\n", a.What, strings.TrimPrefix(a.From.String(), "from "))
			}
		}
		return nil
	case "json":
		return l.eff.WriteJSON(c.App.Writer)
	}
	return fail(fmt.Errorf("--format %q: want toml or json", c.String("format")))
}

func profileCheck(c *ucli.Context) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	ctx := contextFor(h)
	path := c.Args().First()
	if path == "" {
		if path = config.FindProject(h.Cwd, h.Home); path == "" {
			return fail(fmt.Errorf("no %s here or in a parent directory below your home; give a FILE", config.ProjectFile))
		}
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(h.Cwd, path)
	}
	ctx.Project = filepath.Dir(path)
	f, err := config.ReadFile(path, ctx)
	if err == nil {
		_, err = ctx.Chain(f)
	}
	if err != nil {
		return ucli.Exit(err.Error(), 1)
	}
	fmt.Fprintf(c.App.Writer, "%s: ok\n", f.Display)
	return nil
}

func profileList(c *ucli.Context) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	ctx := contextFor(h)
	w := c.App.Writer
	for _, n := range config.Builtins() {
		fmt.Fprintf(w, "%-16s built-in\n", n)
	}
	for _, n := range ctx.UserProfiles() {
		fmt.Fprintf(w, "%-16s %s\n", n, filepath.Join(ctx.ConfigDir, "profiles", n+".toml"))
	}
	if p := config.FindProject(h.Cwd, h.Home); p != "" {
		fmt.Fprintf(w, "%-16s %s\n", "(project)", p)
	}
	return nil
}

func trustCommands() []*ucli.Command {
	return []*ucli.Command{
		{
			Name:  "trust",
			Usage: "allow this project's burrow.toml what it asks beyond your config",
			Description: `Records the project profile (and the files it extends) by content hash in
$XDG_STATE_HOME/burrow/trust.json. Any change to them needs 'burrow trust' again.`,
			OnUsageError: usageError,
			Action:       func(c *ucli.Context) error { return trustAction(c, true) },
		},
		{
			Name:         "untrust",
			Usage:        "forget that this project's burrow.toml was trusted",
			OnUsageError: usageError,
			Action:       func(c *ucli.Context) error { return trustAction(c, false) },
		},
	}
}

func trustAction(c *ucli.Context, trust bool) error {
	h, err := currentHost()
	if err != nil {
		return fail(err)
	}
	ctx := contextFor(h)
	path := config.FindProject(h.Cwd, h.Home)
	if path == "" {
		return fail(fmt.Errorf("no %s here or in a parent directory below your home", config.ProjectFile))
	}
	store := trustStore(ctx)
	if !trust {
		ok, err := store.Untrust(path)
		if err != nil {
			return fail(err)
		}
		if !ok {
			fmt.Fprintf(c.App.Writer, "%s was not trusted\n", path)
			return nil
		}
		fmt.Fprintf(c.App.Writer, "untrusted %s\n", path)
		return nil
	}
	l, err := loadProfiles(h, profileOpts{}, config.Layer{Origin: func(string) config.Origin { return config.Origin{} }})
	if err != nil {
		return fail(err)
	}
	if err := store.Trust(l.projChain, time.Now()); err != nil {
		return fail(fmt.Errorf("record trust: %w", err))
	}
	fmt.Fprintf(c.App.Writer, "trusted %s", path)
	if len(l.asks) == 0 {
		fmt.Fprintln(c.App.Writer, " (it asks for nothing beyond your config)")
		return nil
	}
	fmt.Fprintln(c.App.Writer, "; it may now have:")
	for _, a := range l.asks {
		fmt.Fprintf(c.App.Writer, "  - %s  [%s]\n", a.What, strings.TrimPrefix(a.From.String(), "from "))
	}
	return nil
}
