// Package testenv lets tests that need the outside world (the shared traces,
// tools, servers) skip with a logged reason on a user's fresh machine, and
// fail instead when KVSCOPE_REQUIRE_EXTERNAL=1 (CI), so that a test that can
// silently skip in CI cannot exist.
//
// It is also the one place where a test skips under -short (SkipIfShort):
// CI runs the whole suite once without -short, then again with -race
// -short, so a check skipped under -short still runs in CI, in the first
// pass. Every skip in the suite goes through this package, with its reason
// in the test log.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = "KVSCOPE_REQUIRE_EXTERNAL"

// Required reports whether external resources must be present.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Require skips the test (or fails it under KVSCOPE_REQUIRE_EXTERNAL=1)
// when ok is false; what names the missing resource.
func Require(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if Required() {
		t.Fatalf("%s is missing and %s=1", what, RequireEnv)
	}
	t.Skipf("skipping: %s is missing (set %s=1 to make this a failure)", what, RequireEnv)
}

// SkipIfShort skips t under -short, logging why (what the test reads or
// runs that makes it too long for the race pass). Only full-size checks
// whose reduced forms run anyway belong behind it; the reason must say what
// is left out.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipping under -short: %s", why)
	}
}

// SharedTraces returns the absolute path of ../shared/traces relative to
// the repository root, found by walking up from the working directory to the
// directory holding go.mod. It skips or fails as Require does when missing.
func SharedTraces(t testing.TB) string {
	t.Helper()
	return shared(t, "traces")
}

// VLLMGroundTruth returns the absolute path of ../shared/vllm-groundtruth
// (measured vLLM runs driven by inference-perf), as SharedTraces does.
func VLLMGroundTruth(t testing.TB) string {
	t.Helper()
	return shared(t, "vllm-groundtruth")
}

// VLLMExperiments returns the experiment folders of ../shared/vllm-groundtruth
// (the 16 inference-perf runs, sorted), skipping or failing as Require does
// when the folder is missing and failing when it does not hold 16.
func VLLMExperiments(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(VLLMGroundTruth(t), "2026*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 16 {
		t.Fatalf("%d experiment folders, want 16", len(dirs))
	}
	return dirs
}

func shared(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			Require(t, "the repository root (go.mod)", false)
			return ""
		}
		dir = up
	}
	p := filepath.Join(filepath.Dir(dir), "shared", name)
	fi, err := os.Stat(p)
	Require(t, p, err == nil && fi.IsDir())
	return p
}
