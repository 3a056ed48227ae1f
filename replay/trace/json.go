package trace

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// scanner is a small JSON scanner over one record. The readers use it instead
// of encoding/json because it is several times faster on the id arrays that
// dominate trace files, allocates nothing per value, and lets every error
// name the field it is about ("hash_ids[3]: not an integer").
type scanner struct {
	b   []byte
	pos int
}

var errSyntax = errors.New("malformed JSON")

func (s *scanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.b) {
		return 0
	}
	return s.b[s.pos]
}

func (s *scanner) syntax(what string) error {
	if s.pos >= len(s.b) {
		return fmt.Errorf("malformed JSON: unexpected end, want %s", what)
	}
	return fmt.Errorf("malformed JSON at byte %d: want %s, got %q", s.pos+1, what, s.b[s.pos])
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.syntax(strconv.QuoteRune(rune(c)))
	}
	s.pos++
	return nil
}

// object calls fn for each key of an object; fn must consume the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.rawString()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax("',' or '}'")
		}
	}
}

// array calls fn for each element; fn must consume it.
func (s *scanner) array(fn func(i int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntax("',' or ']'")
		}
	}
}

// rawString returns the bytes between the quotes of a string without
// unescaping (keys never need it). The slice aliases the input.
func (s *scanner) rawString() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.syntax("a string")
	}
	s.pos++
	start := s.pos
	for s.pos < len(s.b) {
		switch c := s.b[s.pos]; {
		case c == '"':
			s.pos++
			return s.b[start : s.pos-1], nil
		case c == '\\':
			s.pos += 2
		case c < 0x20:
			return nil, s.syntax("no control character in a string")
		default:
			s.pos++
		}
	}
	return nil, s.syntax("closing '\"'")
}

// str reads a string value and unescapes it.
func (s *scanner) str() (string, error) {
	start := s.pos
	raw, err := s.rawString()
	if err != nil {
		return "", err
	}
	for _, c := range raw {
		if c == '\\' {
			ws := s.b[start:s.pos]
			for ws[0] != '"' {
				ws = ws[1:]
			}
			v, err := strconv.Unquote(string(ws))
			if err != nil {
				return "", fmt.Errorf("bad string escape: %v", err)
			}
			return v, nil
		}
	}
	if !utf8.Valid(raw) {
		return "", errors.New("string is not valid UTF-8")
	}
	return string(raw), nil
}

// number returns the raw bytes of a JSON number.
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.pos++
			continue
		}
		break
	}
	if s.pos == start {
		return nil, s.syntax("a number")
	}
	return s.b[start:s.pos], nil
}

// int reads an integer value (a float with no fraction, like 12.0, is
// accepted: some traces write lengths as floats).
func (s *scanner) int() (int64, error) {
	raw, err := s.number()
	if err != nil {
		return 0, err
	}
	if v, ok := parseInt(raw); ok {
		return v, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s is not an integer", raw)
	}
	return int64(f), nil
}

// uint reads a non-negative integer that fits in 63 bits (ids() takes the
// whole uint64 range).
func (s *scanner) uint() (uint64, error) {
	v, err := s.int()
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("negative (%d)", v)
	}
	return uint64(v), nil
}

func (s *scanner) float() (float64, error) {
	raw, err := s.number()
	if err != nil {
		return 0, err
	}
	if v, ok := parseInt(raw); ok && v > -1<<53 && v < 1<<53 {
		return float64(v), nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is not a number", raw)
	}
	return f, nil
}

// parseInt parses a plain decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// skip consumes any value.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(func(int) error { return s.skip() })
	case c == '"':
		_, err := s.rawString()
		return err
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		_, err := s.number()
		return err
	}
}

func (s *scanner) lit(w string) error {
	if len(s.b)-s.pos < len(w) || string(s.b[s.pos:s.pos+len(w)]) != w {
		return s.syntax(w)
	}
	s.pos += len(w)
	return nil
}

// isNull consumes a null if one is next.
func (s *scanner) isNull() bool {
	if s.peek() == 'n' && s.lit("null") == nil {
		return true
	}
	return false
}

// end checks that only white space is left.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.syntax("end of record")
	}
	return nil
}

// ids reads an array of non-negative integer ids into dst.
func (s *scanner) ids(field string, dst []uint64) ([]uint64, error) {
	if s.isNull() {
		return dst, nil
	}
	// Fast path, without a call per element: "[" then ids of plain digits,
	// each after at most one space and before "," or "]". At anything else
	// (other whitespace, 20 digits, a sign, an error) it hands the whole
	// array over to the general loop, which reads it again from its "["
	// (FuzzIDsFastPath checks the two agree).
	b, p := s.b, s.pos
	if p < len(b) && b[p] == '[' && p+1 < len(b) && b[p+1] != ']' {
		p++
		n := len(dst)
		for {
			if p < len(b) && b[p] == ' ' {
				p++
			}
			start := p
			var v uint64
			for p < len(b) && p-start < 19 {
				c := b[p] - '0'
				if c > 9 {
					break
				}
				v = v*10 + uint64(c)
				p++
			}
			if p == start || p >= len(b) || b[p] != ',' && b[p] != ']' {
				break
			}
			dst = append(dst, v)
			p++
			if b[p-1] == ']' {
				s.pos = p
				return dst, nil
			}
		}
		// Start again at the beginning: the general loop numbers the
		// elements for its messages.
		dst = dst[:n]
	}
	return s.idsElements(field, dst)
}

// idsElements is ids' general loop, element by element.
func (s *scanner) idsElements(field string, dst []uint64) ([]uint64, error) {
	err := s.array(func(i int) error {
		s.ws()
		// Fast path: plain digits.
		start := s.pos
		var v uint64
		for s.pos < len(s.b) && s.b[s.pos] >= '0' && s.b[s.pos] <= '9' && s.pos-start < 19 {
			v = v*10 + uint64(s.b[s.pos]-'0')
			s.pos++
		}
		if s.pos > start && s.pos < len(s.b) {
			if c := s.b[s.pos]; c == ',' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t' {
				dst = append(dst, v)
				return nil
			}
		}
		s.pos = start
		raw, err := s.number()
		if err == nil {
			if u, perr := strconv.ParseUint(string(raw), 10, 64); perr == nil {
				dst = append(dst, u) // the full uint64 range (20 digits)
				return nil
			}
		}
		s.pos = start
		u, err := s.uint()
		if err != nil {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		}
		dst = append(dst, u)
		return nil
	})
	return dst, err
}
