package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parse(t *testing.T, doc string) *File {
	t.Helper()
	f, err := Parse("/p/burrow.toml", "burrow.toml", []byte(doc), Context{Home: "/home/u", Project: "/p", Cwd: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMergeRules(t *testing.T) {
	ctx := Context{Home: "/home/u", Project: "/p", Cwd: "/p"}
	e := Base(ctx)
	if e.Hostname.V != "burrow" || e.Hostname.From.String() != "built-in" || len(e.EnvPass) != 7 {
		t.Fatalf("base: %+v", e)
	}
	user := parse(t, `
[sandbox]
hostname = "user"
[env]
pass = ["GOFLAGS"]
[env.set]
A = "1"
B = "1"
[[mount]]
type = "tmpfs"
target = "/cache"
`)
	e.Apply(FileLayer(user))
	proj := parse(t, `
[sandbox]
map = "single"
[env.set]
B = "2"
C = "3"
[[mount]]
type = "tmpfs"
target = "/more"
`)
	e.Apply(FileLayer(proj))
	// Scalars override, only where set.
	if e.Hostname.V != "user" || e.Map.V != "single" || e.TTY.V != "auto" {
		t.Fatalf("scalars: %s %s %s", e.Hostname.V, e.Map.V, e.TTY.V)
	}
	if e.Map.From.String() != "from burrow.toml:3" {
		t.Fatalf("origin of map: %s", e.Map.From)
	}
	// Tables merge key by key; lists append.
	var set []string
	for _, s := range e.EnvSet {
		set = append(set, s.V[0]+"="+s.V[1])
	}
	if strings.Join(set, " ") != "A=1 B=2 C=3" {
		t.Fatalf("env.set = %v", set)
	}
	if len(e.Mounts) != 2 || e.Mounts[0].V.Target != "/cache" || e.Mounts[1].V.Target != "/more" {
		t.Fatalf("mounts = %+v", e.Mounts)
	}
	if !Matches(e.PassPatterns(), "GOFLAGS") || !Matches(e.PassPatterns(), "LC_TIME") || Matches(e.PassPatterns(), "LC") {
		t.Fatal("pass patterns")
	}
	// Drops remove inherited entries before the layer adds its own.
	drop := parse(t, `
[drop]
mounts = ["/cache"]
env = ["B", "GOFLAGS"]
[[mount]]
type = "tmpfs"
target = "/cache"
`)
	before := e.Clone()
	e.Apply(FileLayer(drop))
	if len(e.Mounts) != 2 || e.Mounts[1].V.Target != "/cache" || e.Mounts[1].From.Line != 5 {
		t.Fatalf("after drop: %+v", e.Mounts)
	}
	if Matches(e.PassPatterns(), "GOFLAGS") || len(e.EnvSet) != 2 {
		t.Fatalf("env after drop: %v %v", e.PassPatterns(), e.EnvSet)
	}
	if len(before.Mounts) != 2 || before.Mounts[0].V.Target != "/cache" {
		t.Fatal("Clone shares its lists with the original")
	}
	all := parse(t, "[drop]\nmounts = [\"*\"]\nenv = [\"*\"]\n")
	e.Apply(FileLayer(all))
	if len(e.Mounts)+len(e.EnvPass)+len(e.EnvSet) != 0 {
		t.Fatalf("drop * left %v %v %v", e.Mounts, e.EnvPass, e.EnvSet)
	}
}

func TestAsks(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	project := filepath.Join(home, "proj")
	for _, d := range []string{project + "/sub", home + "/cache", dir + "/srv"} {
		os.MkdirAll(d, 0o755)
	}
	ctx := Context{Home: home, Project: project, Cwd: project}
	base := Base(ctx)
	f, err := Parse(project+"/burrow.toml", "burrow.toml", []byte(`
[[mount]]
type = "bind"
source = "sub"
[[mount]]
type = "ro-bind"
source = "`+dir+`/srv"
[[mount]]
type = "bind"
source = "`+dir+`/srv"
target = "/srv"
[[mount]]
type = "ro-bind"
source = "~/cache"
[env]
pass = ["LANG", "LC_TIME", "TOKEN"]
all = true
[project]
mode = "rw"
`), ctx)
	if err != nil {
		t.Fatal(err)
	}
	asks := Asks(base, []Layer{FileLayer(f)}, project, home)
	var got []string
	for _, a := range asks {
		got = append(got, a.What+" @"+a.From.String())
	}
	want := []string{
		"bind of " + dir + "/srv on /srv (read-write, outside the project) @from burrow.toml:8",
		"ro-bind of " + home + "/cache on " + home + "/cache (under your home directory) @from burrow.toml:12",
		"your environment variable TOKEN @from burrow.toml:16",
		"your whole environment (env.all = true) @from burrow.toml:17",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("asks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A writable project is an ask only where the user made it read-only.
	base.ProjectMode.V = "ro"
	if a := Asks(base, []Layer{FileLayer(f)}, project, home); len(a) != 5 {
		t.Fatalf("with a read-only base: %d asks", len(a))
	}
}

func TestErrorsCarryPositions(t *testing.T) {
	for doc, want := range map[string]string{
		"[sandbox]\nhostnme = 1\n":                         `x.toml:2:1: unknown key "hostnme" in [sandbox] (did you mean "hostname"?)`,
		"[[mount]]\ntype = \"tmpfs\"\ntarjet = 1\n":        `x.toml:3:1: unknown key "tarjet" in [mount] (did you mean "target"?)`,
		"[env]\npass = \"X\"\n":                            `x.toml:2:8: env.pass: want an array of strings, got a string`,
		"[env]\npass = [\"A\", \"B-C\"]\n":                 `x.toml:2:14: env.pass: "B-C" is not a variable name`,
		"mount = [{type = \"tmpfs\", target = \"rel\"}]\n": `x.toml:1:36: mount target "rel" is not an absolute path`,
		"[sandbox]\nhostname = \"a b\"\n":                  `x.toml:2:12: sandbox.hostname = "a b": want 1 to 64 characters`,
		"[sandbox]\nworkdir = \"rel\"\n":                   `x.toml:2:11: sandbox.workdir = "rel": want an absolute path`,
		"[drop]\nmounts = [\"rel\"]\n":                     `x.toml:2:11: drop.mounts: "rel": want the absolute target`,
	} {
		_, err := Parse("/x.toml", "x.toml", []byte(doc), Context{Home: "/h", Project: "/p"})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s", doc, err, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	if s := suggest("hostnme", []string{"hostname", "map", "user"}); s != "hostname" {
		t.Fatalf("suggest = %q", s)
	}
	if s := suggest("zzzzzz", []string{"hostname", "map"}); s != "" {
		t.Fatalf("far-off key got %q", s)
	}
}

func TestBuiltinsParse(t *testing.T) {
	for _, n := range Builtins() {
		if _, ok := Builtin(n, Context{}); !ok {
			t.Fatalf("built-in %s", n)
		}
	}
	if strings.Join(Builtins(), ",") != "default,strict" {
		t.Fatalf("built-ins: %v", Builtins())
	}
}

// The schema and the key reference in docs/ are generated from the Go
// types; regenerate them with: go run . profile schema > docs/burrow.schema.json
// and by pasting Reference() into docs/profiles.md.
func TestDocsInSync(t *testing.T) {
	schema, err := os.ReadFile("../docs/burrow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(schema) != string(Schema()) {
		t.Error("docs/burrow.schema.json is stale: go run . profile schema > docs/burrow.schema.json")
	}
	doc, err := os.ReadFile("../docs/profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "<!-- keys:begin -->\n"+Reference()+"<!-- keys:end -->") {
		t.Error("docs/profiles.md: the key table between <!-- keys:begin --> and <!-- keys:end --> is stale; paste config.Reference()")
	}
}
