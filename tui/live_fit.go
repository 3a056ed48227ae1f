package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// liveSeg is one piece of a live line: the text and the separator that
// goes before it when it follows another piece on the same line (a
// piece that starts a continuation line goes without).
type liveSeg struct{ sep, text string }

// fitRow lays head and segs out in lines of at most w cells: pieces are
// packed greedily, continuation lines are indented by indent cells, and a
// piece wider than a whole continuation line (a long URL) is broken
// across lines rather than cut, so nothing of a live line is lost at any
// width the box can show. Styling (ANSI) is kept; widths are cells.
func fitRow(head string, segs []liveSeg, indent, w int) []string {
	if w < indent+10 {
		// Too narrow to lay out: one line, which the box cuts.
		line := head
		for _, s := range segs {
			line += s.sep + s.text
		}
		return []string{line}
	}
	pad := strings.Repeat(" ", indent)
	var out []string
	line, fresh := head, head == "" // fresh: nothing after the indent yet
	for _, s := range segs {
		try := line + s.sep + s.text
		if fresh {
			try = line + s.text
		}
		if ansi.StringWidth(try) <= w {
			line, fresh = try, false
			continue
		}
		if !fresh {
			out = append(out, line)
			line = pad
		}
		if ansi.StringWidth(pad+s.text) <= w {
			line, fresh = pad+s.text, false
			continue
		}
		pieces := strings.Split(ansi.Hardwrap(s.text, w-indent, true), "\n")
		for _, p := range pieces[:len(pieces)-1] {
			out = append(out, pad+p)
		}
		line, fresh = pad+pieces[len(pieces)-1], false
	}
	return append(out, line)
}
