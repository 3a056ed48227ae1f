package main

import (
	"runtime/debug"
	"strings"
)

// versionString is what `kvscope version` and `kvscope --version` print:
// the release build's -ldflags stamp first; otherwise the module version
// `go install …@vX` records; then, when the binary was built from a
// checkout, the commit, its time and whether the tree had changes (Go
// records them in the build info; a test binary has none).
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	return formatVersion(version, bi, ok)
}

func formatVersion(stamp string, bi *debug.BuildInfo, ok bool) string {
	v := stamp
	if !ok || bi == nil {
		return v
	}
	var rev, at string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	// A source build's module version is a pseudo-version made of the
	// same commit (Go 1.24+): the commit below says it plainly.
	if mv := bi.Main.Version; v == "dev" && mv != "" && mv != "(devel)" && (rev == "" || !strings.Contains(mv, rev)) {
		v = mv
	}
	if rev == "" {
		return v
	}
	details := []string{"commit " + rev}
	if at != "" {
		details = append(details, at)
	}
	if modified {
		details = append(details, "modified")
	}
	return v + " (" + strings.Join(details, ", ") + ")"
}
