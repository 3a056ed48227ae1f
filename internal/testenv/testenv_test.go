package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSharedTraces(t *testing.T) {
	p := SharedTraces(t) // skips (or fails under KVSCOPE_REQUIRE_EXTERNAL=1) when missing
	if !filepath.IsAbs(p) || filepath.Base(p) != "traces" {
		t.Fatalf("path %q", p)
	}
	if _, err := os.Stat(filepath.Join(p, "mooncake", "conversation_trace.jsonl")); err != nil {
		t.Fatalf("shared traces without the Mooncake trace: %v", err)
	}
}

func TestRequirePresent(t *testing.T) {
	Require(t, "something present", true) // must neither skip nor fail
}

// SkipIfShort skips exactly under -short: the body after it runs in a
// plain `go test` and not under -short.
func TestSkipIfShort(t *testing.T) {
	ran := false
	t.Run("probe", func(t *testing.T) {
		SkipIfShort(t, "probe of the helper")
		ran = true
	})
	if ran == testing.Short() {
		t.Fatalf("-short %v, body ran %v", testing.Short(), ran)
	}
}
