package cli

import (
	"os"
	"testing"
)

// TestCommandsDoc keeps docs/commands.md in sync with the commands:
// BURROW_UPDATE_DOCS=1 go test ./cli -run CommandsDoc rewrites it.
func TestCommandsDoc(t *testing.T) {
	want := CommandsMarkdown()
	if os.Getenv("BURROW_UPDATE_DOCS") == "1" {
		if err := os.WriteFile("../docs/commands.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("../docs/commands.md")
	if err != nil || string(got) != want {
		t.Fatal("docs/commands.md is stale: BURROW_UPDATE_DOCS=1 go test ./cli -run CommandsDoc")
	}
}
