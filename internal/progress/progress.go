package progress

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Mode says when the progress line is drawn.
type Mode int

const (
	// Auto draws when the writer is a terminal.
	Auto Mode = iota
	// Always draws whatever the writer is (tests, logs).
	Always
	// Never draws nothing.
	Never
)

// ParseMode reads "auto", "always" or "never".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto":
		return Auto, nil
	case "always":
		return Always, nil
	case "never":
		return Never, nil
	}
	return Auto, fmt.Errorf("%q: want auto, always or never", s)
}

func (m Mode) String() string {
	switch m {
	case Always:
		return "always"
	case Never:
		return "never"
	}
	return "auto"
}

// MinInterval is the shortest time between two drawn updates.
const MinInterval = 100 * time.Millisecond

// Printer draws the progress line and the wrote lines on w. It is safe
// for concurrent use (compare's runs report from several goroutines).
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool // progress lines are drawn
	quiet bool // wrote lines are silenced too
	last  time.Time
	shown bool // a progress line is on screen
	// Now is the clock (tests replace it).
	Now func() time.Time
}

// New returns a Printer on w. quiet silences everything; otherwise mode
// decides the progress line (Auto: only when w is a terminal) and the
// wrote lines are always printed.
func New(w io.Writer, mode Mode, quiet bool) *Printer {
	on := !quiet && (mode == Always || (mode == Auto && IsTerminal(w)))
	return &Printer{w: w, on: on, quiet: quiet, Now: time.Now}
}

// IsTerminal reports whether w is a terminal; anything but an *os.File (a
// test's buffer) is not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// On reports whether progress lines are drawn.
func (p *Printer) On() bool { return p != nil && p.on }

// Update draws the line line() returns, unless the previous update was
// drawn less than MinInterval ago (then line is not even called). The
// first update is always drawn.
func (p *Printer) Update(line func() string) { p.update(line, false) }

// Final draws a step's last update (its work all done) whatever the time
// since the previous one, so the line ends on the true count.
func (p *Printer) Final(line func() string) { p.update(line, true) }

func (p *Printer) update(line func() string, force bool) {
	if !p.On() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.Now()
	if !force && p.shown && now.Sub(p.last) < MinInterval {
		return
	}
	p.last = now
	p.shown = true
	fmt.Fprintf(p.w, "\r\x1b[K%s", line())
}

// Clear erases the progress line, if one is on screen.
func (p *Printer) Clear() {
	if !p.On() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// Wrote clears the progress line and prints "wrote PATH (SIZE)" for a file
// just written, or "wrote PATH (SIZE, DETAIL, ...)", unless quiet.
// Standard output ("-" or "") prints nothing.
func (p *Printer) Wrote(path string, detail ...string) {
	if p == nil || p.quiet || path == "" || path == "-" {
		return
	}
	p.Clear()
	size := "size unknown"
	if fi, err := os.Stat(path); err == nil {
		size = Size(fi.Size())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "wrote %s (%s)\n", path, strings.Join(append([]string{size}, detail...), ", "))
}

// Size formats a byte count in decimal units, as a person reads them:
// "512 B", "4.1 KB", "78 KB", "1.2 MB", "3.4 GB".
func Size(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 999.5 || u == "TB" {
			if f < 9.95 {
				return fmt.Sprintf("%.1f %s", f, u)
			}
			return fmt.Sprintf("%.0f %s", f, u)
		}
	}
	panic("unreachable")
}

// Rate formats n units over d as "12 MB/s" (bytes) or "5,120 req/s";
// "" when d is too short to say.
func Rate(n float64, d time.Duration, unit string) string {
	if d < 50*time.Millisecond {
		return ""
	}
	r := n / d.Seconds()
	switch {
	case unit == "B":
		return Size(int64(r)) + "/s"
	case r < 10:
		// A few runs a minute is still a rate: 0.05 runs/s, not 0.
		return strconv.FormatFloat(r, 'g', 2, 64) + " " + unit + "/s"
	}
	return Count(int64(r)) + " " + unit + "/s"
}

// Count writes n with thousands separators: 40,000.
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Percent is "(27%)" of done over total, "" without a total. It never
// says 100% before done reaches total.
func Percent(done, total int64) string {
	if total <= 0 {
		return ""
	}
	pc := done * 100 / total
	if pc >= 100 && done < total {
		pc = 99
	}
	return fmt.Sprintf(" (%d%%)", pc)
}
