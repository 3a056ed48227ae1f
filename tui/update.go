package tui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/kvscope/kvscope/replay/live"
)

// update applies a message to the root's state: replay progress and
// results, metrics, curves, statistics, exports, play ticks, the live
// run, the terminal's size and background; input goes to input.
func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case metricsMsg:
		m.metricsBusy = false
		for _, r := range msg.res {
			sl := m.slotByID(r.id, r.gen)
			if sl == nil || sl.state != slotDone {
				continue
			}
			if r.err != nil {
				// A spilled run's file could not be read: say so, keep the
				// last table (marked as for another instant).
				m.setStatus(string(rune('A'+slices.Index(m.s.slots, sl)))+" metrics: "+r.err.Error(), false)
				continue
			}
			sl.memo, sl.memoT, sl.memoOK = r.m, msg.t, true
		}
		return nil
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return nil
	case tea.BackgroundColorMsg:
		if m.cfg.Dark == nil {
			m.setTheme(msg.IsDark())
		}
		return nil
	case progressMsg:
		if sl := m.slotByID(msg.id, msg.gen); sl != nil && sl.state == slotRunning {
			sl.done, sl.total, sl.phase = msg.done, msg.total, msg.phase
			m.s.version++
		}
		return msg.next
	case replayDoneMsg:
		m.streams.take(msg.data)
		sl := m.slotByID(msg.id, msg.gen)
		if sl == nil {
			if msg.data != nil {
				msg.data.close()
			}
			return nil // removed or edited meanwhile
		}
		sl.elapsed = msg.elapsed
		tag := string(rune('A' + slices.Index(m.s.slots, sl)))
		if msg.err != nil {
			sl.state, sl.err = slotFailed, msg.err
			m.setStatus(tag+" failed: "+oversizeHint(msg.err)+failureText(msg.err), false)
		} else {
			sl.state, sl.data, sl.view, sl.done = slotDone, msg.data, msg.view, sl.total
			if m.s.summary == nil && msg.summary != nil {
				m.s.summary = msg.summary
			}
			if m.status != "" && strings.HasPrefix(m.status, "replaying "+tag) {
				m.setStatus(tag+" replayed in "+fmtDur(msg.elapsed, false), true)
			}
		}
		sl.memoOK = false
		if m.Done() {
			select {
			case <-m.ready:
			default:
				close(m.ready)
			}
		}
		wasStart := m.s.cursor == m.s.span.Start
		m.s.version++
		m.s.updateSpan()
		if wasStart {
			m.s.cursor = m.s.span.Start
		}
		return nil
	case curveMsg:
		m.curveDone(msg)
		return nil
	case statsMsg:
		m.s.stats, m.s.statsErr = msg.stats, msg.err
		m.s.version++
		return nil
	case exportDoneMsg:
		m.exporting = false
		if msg.err != nil {
			m.setStatus("report: "+msg.err.Error(), false)
		} else {
			m.exported = msg.path
			m.setStatus(exportStatus(msg))
		}
		return nil
	case playTickMsg:
		if !m.s.playing || msg.seq != m.s.playSeq {
			return nil
		}
		var end bool
		m.s.cursor, end = playStep(m.s.span, m.s.cursor, speeds[m.s.speed], playTick)
		if end {
			m.s.playing = false
			m.setStatus("end of the timeline: space plays from the start", true)
			return nil
		}
		return m.tick()
	case liveMsg:
		if l := m.s.live; l != nil {
			l.hist.add(msg.u)
			if msg.u.Snapshot != nil {
				l.snap = *msg.u.Snapshot
				l.hasSnap = true
				m.liveSpan()
			}
			if r := msg.u.Record; r != nil {
				l.records++
				if r.Status != live.Completed {
					l.failed++
				}
			}
		}
		return msg.next
	case liveDoneMsg:
		if l := m.s.live; l != nil {
			l.running, l.res, l.err = false, msg.res, msg.err
			l.hist.end(msg.res) // the charts and events now cover the whole run
			m.liveSpan()
			switch r := msg.res; {
			case r != nil:
				// A finished run, or an interrupted one (its error says it
				// was cancelled; the result holds what was sent).
				s := fmt.Sprintf("live: %d requests: %d completed, %d failed, %d timed out", r.Requests, r.Completed, r.Failed, r.TimedOut)
				if r.Interrupted {
					s += fmt.Sprintf(", %d cancelled (interrupted)", r.Cancelled)
				}
				l.err = nil
				m.setStatus(s, r.Completed > 0 && !r.Interrupted)
			case msg.err != nil:
				m.setStatus("live failed: "+msg.err.Error(), false)
			}
		}
		return nil
	}
	return m.input(msg)
}

// liveSpan stretches the span over the recorded live run (a snapshot
// came, or the run ended); the charts resample when it changes.
func (m *Model) liveSpan() {
	before := m.s.span
	m.s.updateSpan()
	if m.s.span != before {
		m.s.version++
	}
}

// input routes a key, paste or mouse message: ctrl+c quits whatever is
// open; otherwise the topmost dialog sees it first and may let it through
// to the global keys, then the focused pane (keys), or the pane under the
// pointer (mouse).
func (m *Model) input(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "ctrl+c" {
		return m.quit()
	}
	switch msg.(type) {
	case tea.KeyPressMsg, tea.MouseClickMsg:
		if m.statusInput {
			m.setStatus("", true)
		}
	}
	var first tea.Cmd
	if d := m.top(); d != nil {
		r := d.update(msg)
		if r.close {
			m.closeTop()
		}
		if r.then != nil {
			m.push(r.then)
		}
		if !r.pass {
			return r.cmd
		}
		first = r.cmd
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		ok, cmd := m.globalKey(msg)
		if !ok {
			cmd = m.panes[m.s.focus].Update(msg)
		}
		return tea.Batch(first, cmd)
	case tea.MouseWheelMsg:
		mo := msg.Mouse()
		if p, ok := m.lay.paneAt(mo.X, mo.Y); ok {
			d := 0
			switch mo.Button {
			case tea.MouseWheelUp:
				d = -1
			case tea.MouseWheelDown:
				d = 1
			}
			m.panes[p].wheel(d)
		}
	case tea.MouseClickMsg:
		mo := msg.Mouse()
		if p, ok := m.lay.paneAt(mo.X, mo.Y); ok && mo.Button == tea.MouseLeft {
			m.setFocus(p)
		}
	}
	return first
}
