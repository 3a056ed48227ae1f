package tui

import (
	"fmt"
	"strings"
)

// LiveFailure is the live run's failure once the explorer closes, nil when
// there was none: the run could not start or broke (no result), or it
// ended with requests and none completed (as `kvscope live` exits 1). A
// run still going when the user quits, or one interrupted, is the user's
// choice, not a failure. Run returns it, so `kvscope open --attach`
// exits 1 with the cause on a line of its own after the screen is gone
// (the status line that showed it went with the screen).
func (m *Model) LiveFailure() error {
	l := m.s.live
	switch {
	case l == nil || l.running:
		return nil
	case l.res == nil && l.err != nil:
		return fmt.Errorf("live run failed: %w", l.err)
	case l.res != nil && !l.res.Interrupted && l.res.Requests > 0 && l.res.Completed == 0:
		var why []string
		for _, k := range l.res.FailReasonList() {
			why = append(why, fmt.Sprintf("%d %s", l.res.FailReasons[k], k))
		}
		return fmt.Errorf("live run: no request completed of %d (%s)", l.res.Requests, strings.Join(why, ", "))
	}
	return nil
}
