package config

import (
	"os"
	"testing"
)

// TestPrintReference writes the key table for docs/profiles.md when
// BURROW_PRINT_REFERENCE names a file.
func TestPrintReference(t *testing.T) {
	if out := os.Getenv("BURROW_PRINT_REFERENCE"); out != "" {
		os.WriteFile(out, []byte(Reference()), 0o644)
	}
}
