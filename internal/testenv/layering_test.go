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

// TestAnalysisWithoutHTTP keeps analysis on live run results, not on the
// live driver (issue 13): no package of this module that analysis depends
// on imports net/http (the result types live in replay/live/liverun).
func TestAnalysisWithoutHTTP(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		Require(t, "the go command", false)
	}
	const module = "github.com/kvscope/kvscope"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/analysis").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps analysis: %v\n%s", err, out)
	}
	ours := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != module && !strings.HasPrefix(f[0], module+"/") {
			continue
		}
		ours++
		for _, imp := range f[1:] {
			if imp == "net/http" || strings.HasPrefix(imp, "net/http/") {
				t.Errorf("%s imports %s, and analysis depends on it", f[0], imp)
			}
		}
	}
	if ours < 2 {
		t.Fatalf("go list -deps analysis listed %d packages of the module:\n%s", ours, out)
	}
}
