package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// SchemaURL is the $id of the profile schema.
const SchemaURL = "https://burrow.invalid/burrow.schema.json"

// Schema is the JSON Schema (draft 2020-12) of a profile, generated from
// the Profile type and its desc, enum, pattern and default tags; the
// copy in docs/burrow.schema.json is checked against it by a test.
func Schema() []byte {
	s := schemaOf(reflect.TypeOf(Profile{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaURL
	s["title"] = "burrow profile (burrow.toml)"
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	}
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		p := schemaOf(f.Type)
		p["description"] = f.Tag.Get("desc")
		if e := f.Tag.Get("enum"); e != "" {
			p["enum"] = strings.Split(e, ",")
		}
		if pat := f.Tag.Get("pattern"); pat != "" {
			if p["type"] == "array" {
				p["items"] = map[string]any{"type": "string", "pattern": pat}
			} else {
				p["pattern"] = pat
			}
		}
		if d := f.Tag.Get("default"); d != "" {
			if d == "false" || d == "true" {
				p["default"] = d == "true"
			} else {
				p["default"] = d
			}
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, tomlName(f))
		}
		props[tomlName(f)] = p
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if required != nil {
		s["required"] = required
	}
	return s
}

// Reference is the Markdown table of every key, from the same tags as
// the schema; docs/profiles.md carries a copy checked by a test.
func Reference() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Meaning |\n|---|---|---|---|\n")
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			key := prefix + tomlName(f)
			if ft.Kind() == reflect.Struct {
				walk(key+".", ft)
				continue
			}
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				fmt.Fprintf(&b, "| `[[%s]]` | array of tables | | %s |\n", key, f.Tag.Get("desc"))
				walk(key+"[].", ft.Elem())
				continue
			}
			typ := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean", reflect.Int64: "integer", reflect.Float64: "number", reflect.Slice: "array of strings", reflect.Map: "table of strings"}[ft.Kind()]
			if e := f.Tag.Get("enum"); e != "" {
				typ = "`" + strings.ReplaceAll(e, ",", "` \\| `") + "`"
			}
			def := f.Tag.Get("default")
			if def != "" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", key, typ, def, strings.ReplaceAll(f.Tag.Get("desc"), "|", "\\|"))
		}
	}
	walk("", reflect.TypeOf(Profile{}))
	return b.String()
}
