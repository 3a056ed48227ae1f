package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the data flow one way (DESIGN): replay, analysis and
// gpuprofile never import terminal code, replay never imports analysis or
// tui, and gpuprofile knows nothing of traces.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		Require(t, "the go command", false)
	}
	rules := []struct {
		pkgs      string
		forbidden []string
	}{
		{"github.com/kvscope/kvscope/replay/...", []string{"charm.land/", "github.com/charmbracelet/", "github.com/kvscope/kvscope/tui", "github.com/kvscope/kvscope/analysis"}},
		{"github.com/kvscope/kvscope/analysis/...", []string{"charm.land/", "github.com/charmbracelet/", "github.com/kvscope/kvscope/tui"}},
		{"github.com/kvscope/kvscope/gpuprofile/...", []string{"charm.land/", "github.com/charmbracelet/", "github.com/kvscope/kvscope/replay", "github.com/kvscope/kvscope/tui", "github.com/kvscope/kvscope/analysis"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", r.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s (forbidden: %s)", r.pkgs, dep, f)
				}
			}
		}
	}
}
