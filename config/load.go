package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Error is a problem at a place in a profile: FILE:LINE:COL: message.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Context is what path expansion and discovery need to know.
type Context struct {
	Home    string // ~
	Project string // ${PROJECT}
	Cwd     string // for the paths shown in messages
	// ConfigDir is the user's burrow config directory
	// ($XDG_CONFIG_HOME/burrow): config.toml, profiles/NAME.toml.
	ConfigDir string
}

// File is one parsed profile.
type File struct {
	// Path is absolute; "builtin:NAME" for a built-in profile.
	Path    string
	Display string
	Data    []byte
	Profile Profile
	keys    map[string]pos // key path → position of the key
	values  map[string]pos // key path → position of the value
}

type pos struct{ line, col int }

// Builtin reports whether f ships in the binary.
func (f *File) Builtin() bool { return strings.HasPrefix(f.Path, "builtin:") }

// ReadFile parses the profile at path.
func ReadFile(path string, ctx Context) (*File, error) {
	display := ctx.display(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: display, Msg: fmt.Sprintf("cannot read the profile: %v", errors.Unwrap(err))}
	}
	return Parse(path, display, data, ctx)
}

// Parse decodes a profile strictly, checks every value and expands its
// paths. The error joins one *Error per problem.
func Parse(path, display string, data []byte, ctx Context) (*File, error) {
	f := &File{Path: path, Display: display, Data: data}
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&f.Profile); err != nil {
		return nil, f.decodeError(err)
	}
	f.keys, f.values = index(data)
	var errs []error
	f.check(ctx, func(key string, atValue bool, format string, args ...any) {
		p := f.keys[key]
		if vp, ok := f.values[key]; atValue && ok {
			p = vp
		}
		errs = append(errs, &Error{File: display, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)})
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

var typeMsg = regexp.MustCompile(`cannot decode TOML (\w+) into .* of type (.+)$`)

// decodeError rewrites go-toml's errors in the user's terms.
func (f *File) decodeError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for _, e := range strict.Errors {
			line, col := e.Position()
			errs = append(errs, &Error{File: f.Display, Line: line, Col: col, Msg: unknownKey(e.Key())})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{File: f.Display, Msg: err.Error()}
	}
	line, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	key := strings.Join(de.Key(), ".")
	if m := typeMsg.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%s: want %s, got a %s", key, goTypeName(m[2]), strings.ToLower(m[1]))
	} else if len(de.Key()) == 0 || strings.Contains(msg, "already defined") {
		msg = "syntax error: " + msg
	}
	return &Error{File: f.Display, Line: line, Col: col, Msg: msg}
}

func goTypeName(t string) string {
	switch {
	case t == "bool" || t == "*bool":
		return "true or false"
	case t == "string" || t == "*string":
		return "a string"
	case strings.HasPrefix(t, "map["):
		return "a table of strings"
	case t == "[]string":
		return "an array of strings"
	case strings.HasPrefix(t, "[]"):
		return "an array of tables"
	}
	return "a table"
}

// unknownKey explains a key the profile format does not have.
func unknownKey(k []string) string {
	name := k[len(k)-1]
	where, t := "at the top level", reflect.TypeOf(Profile{})
	var path []string
	for _, part := range k[:len(k)-1] {
		if _, err := strconv.Atoi(part); err == nil {
			continue
		}
		path = append(path, part)
		t = fieldType(t, part)
	}
	if len(path) > 0 {
		where = "in [" + strings.Join(path, ".") + "]"
	}
	msg := fmt.Sprintf("unknown key %q %s", name, where)
	if t != nil {
		if s := suggest(name, keysOf(t)); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += fmt.Sprintf(" (known: %s)", strings.Join(keysOf(t), ", "))
		}
	}
	return msg
}

func fieldType(t reflect.Type, name string) reflect.Type {
	if t == nil {
		return nil
	}
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		if tomlName(t.Field(i)) == name {
			ft := t.Field(i).Type
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			return ft
		}
	}
	return nil
}

func tomlName(f reflect.StructField) string { return strings.Split(f.Tag.Get("toml"), ",")[0] }

func keysOf(t reflect.Type) []string {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, tomlName(t.Field(i)))
	}
	sort.Strings(out)
	return out
}

// suggest returns the known key closest to name, if it is close.
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// index maps every key path (array elements by number: mount.0.source,
// env.pass.1) to the position of its key and of its value.
func index(data []byte) (keys, values map[string]pos) {
	keys, values = map[string]pos{}, map[string]pos{}
	p := &unstable.Parser{}
	p.Reset(data)
	at := func(r unstable.Range) pos {
		s := p.Shape(r)
		return pos{s.Start.Line, s.Start.Column}
	}
	var walk func(prefix string, v *unstable.Node)
	walk = func(prefix string, v *unstable.Node) {
		if v == nil || !v.Valid() {
			return
		}
		if v.Raw.Length > 0 {
			values[prefix] = at(v.Raw)
		}
		switch v.Kind {
		case unstable.Array:
			it := v.Children()
			for i := 0; it.Next(); i++ {
				el := prefix + "." + strconv.Itoa(i)
				if n := it.Node(); n.Raw.Length > 0 {
					keys[el] = at(n.Raw)
				} else {
					keys[el] = keys[prefix]
				}
				walk(el, it.Node())
			}
		case unstable.InlineTable:
			it := v.Children()
			for it.Next() {
				kv := it.Node()
				k, kp := keyOf(kv)
				keys[prefix+"."+k] = at(kp)
				walk(prefix+"."+k, kv.Value())
			}
		}
	}
	table := ""
	arrays := map[string]int{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			k, kp := keyOf(e)
			table = k
			if e.Kind == unstable.ArrayTable {
				table = k + "." + strconv.Itoa(arrays[k])
				arrays[k]++
			}
			keys[table] = at(kp)
		case unstable.KeyValue:
			k, kp := keyOf(e)
			if table != "" {
				k = table + "." + k
			}
			keys[k] = at(kp)
			walk(k, e.Value())
		}
	}
	return keys, values
}

// keyOf joins a node's dotted key and returns the range of its first part.
func keyOf(n *unstable.Node) (string, unstable.Range) {
	var parts []string
	var first unstable.Range
	it := n.Key()
	for it.Next() {
		if len(parts) == 0 {
			first = it.Node().Raw
		}
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, "."), first
}

func (c Context) display(path string) string {
	if c.Cwd != "" {
		if rel, ok := strings.CutPrefix(path, strings.TrimSuffix(c.Cwd, "/")+"/"); ok {
			return rel
		}
	}
	if c.Home != "" {
		if rel, ok := strings.CutPrefix(path, strings.TrimSuffix(c.Home, "/")+"/"); ok {
			return "~/" + rel
		}
	}
	return path
}
