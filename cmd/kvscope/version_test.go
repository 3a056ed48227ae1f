package main

import (
	"runtime/debug"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-04T15:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	clean := []debug.BuildSetting{vcs[1], vcs[2], {Key: "vcs.modified", Value: "false"}}
	for _, c := range []struct {
		name  string
		stamp string
		bi    *debug.BuildInfo
		ok    bool
		want  string
	}{
		{"no build info", "dev", nil, false, "dev"},
		{"source build, changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, true,
			"dev (commit 0123456789ab, 2026-12-04T15:00:00Z, modified)"},
		{"source build, clean", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: clean}, true,
			"dev (commit 0123456789ab, 2026-12-04T15:00:00Z)"},
		{"go install @version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "v1.2.3"},
		{"release stamp first", "1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: clean}, true,
			"1.4.0 (commit 0123456789ab, 2026-12-04T15:00:00Z)"},
		{"source build, pseudo-version", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204150000-0123456789ab+dirty"}, Settings: vcs}, true,
			"dev (commit 0123456789ab, 2026-12-04T15:00:00Z, modified)"},
		{"no vcs (test binary)", "dev", &debug.BuildInfo{}, true, "dev"},
	} {
		if got := formatVersion(c.stamp, c.bi, c.ok); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
