package cli_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/recoflow/recoflow/internal/cli"
)

// TestConfigReferenceIsCurrent fails when docs/CONFIG.md no longer matches
// the commands' flags.
func TestConfigReferenceIsCurrent(t *testing.T) {
	var out bytes.Buffer
	if err := cli.Run(context.Background(), []string{"config-reference"}, cli.Options{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	checked, err := os.ReadFile("../../docs/CONFIG.md")
	if err != nil {
		t.Fatalf("docs/CONFIG.md: %v (generate it with `go run ./cmd/recoflow config-reference > docs/CONFIG.md`)", err)
	}
	if !bytes.Equal(checked, out.Bytes()) {
		t.Fatal("docs/CONFIG.md is out of date: regenerate it with `go run ./cmd/recoflow config-reference > docs/CONFIG.md`")
	}
}
