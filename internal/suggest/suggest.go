package suggest

import "strings"

// Names returns the names in valid closest to got by edit distance
// (insertions, deletions, substitutions and swaps of neighbours), for a
// "did you mean" after an unknown name: those within a third of got's
// length (at least 1, at most 3), or whose name starts with got, nearest
// first and otherwise in valid's order. Nil when none is close.
func Names(got string, valid []string) []string {
	limit := min(max(len(got)/3, 1), 3)
	best := limit + 1
	var out []string
	for _, v := range valid {
		d := distance(got, v)
		if got != "" && strings.HasPrefix(v, got) {
			d = min(d, 1)
		}
		switch {
		case d > limit || d > best:
		case d < best:
			best, out = d, []string{v}
		default:
			out = append(out, v)
		}
	}
	return out
}

// DidYouMean is Names spelled for an error message: `; did you mean
// "x"?` (or `"x" or "y"`), or "" when nothing is close.
func DidYouMean(got string, valid []string) string {
	s := Names(got, valid)
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = `"` + v + `"`
	}
	return "; did you mean " + strings.Join(q, " or ") + "?"
}

// distance is the optimal-string-alignment edit distance of a and b, by
// bytes (component names are ASCII).
func distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
