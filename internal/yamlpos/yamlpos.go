package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at one place of one file: "FILE:LINE: field: reason"
// (the line is left out when unknown, the field when it is the document).
type Error struct {
	File   string
	Line   int
	Field  string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Node is one value of a parsed document with its place.
type Node struct {
	file string
	path string
	n    *yaml.Node // nil: the key is absent
	line int        // where an absent key would be: its mapping's line
}

// yamlLine matches the position yaml.v3 puts in its syntax errors;
// yamlAnchor the one error it gives without a line.
var (
	yamlLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// Parse reads one YAML document. An empty document is a null root.
func Parse(file string, data []byte) (Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Node{file: file, line: 1}, nil
		}
		return Node{}, syntaxErr(file, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Node{}, &Error{File: file, Line: extra.Line, Reason: "a second YAML document (a configuration is one document)"}
	} else if !errors.Is(err, io.EOF) {
		return Node{}, syntaxErr(file, data, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return Node{file: file, line: 1}, nil
		}
		root = root.Content[0]
	}
	return Node{file: file, n: root, line: root.Line}, nil
}

func syntaxErr(file string, data []byte, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Reason: "YAML: " + m[2]}
	}
	e := &Error{File: file, Reason: strings.Replace(msg, "yaml: ", "YAML: ", 1)}
	lineAt := func(i int) int { return 1 + bytes.Count(data[:i], []byte{'\n'}) }
	if m := yamlAnchor.FindStringSubmatch(msg); m != nil {
		// The first use of the alias is where it fails.
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			e.Line = lineAt(i)
		}
	}
	if e.Line == 0 {
		// yaml.v3 gives no line for characters YAML does not allow
		// (control characters, bad UTF-8): find the first; failing that
		// the error is at the end of the stream.
		if i := notPrintable(data); i >= 0 {
			e.Line = lineAt(i)
		} else {
			e.Line = lineAt(len(bytes.TrimRight(data, "\n")))
		}
	}
	return e
}

// notPrintable is the offset of the first character outside YAML's
// printable set (tab, line feed, carriage return, U+0020-U+007E, U+0085,
// U+00A0-U+D7FF, U+E000-U+FFFD, U+10000 and above), or -1.
func notPrintable(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		ok := r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
			(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || r >= 0x10000
		if !ok || (r == utf8.RuneError && n == 1) {
			return i
		}
		i += n
	}
	return -1
}

// Path is the node's dotted field path ("load.stages[1].rate"); "" for the
// document.
func (n Node) Path() string { return n.path }

// Line is the node's line (its mapping's line when the key is absent).
func (n Node) Line() int {
	if n.n != nil {
		return n.n.Line
	}
	return n.line
}

// Errorf is an *Error at the node.
func (n Node) Errorf(format string, args ...any) error {
	return &Error{File: n.file, Line: n.Line(), Field: n.path, Reason: fmt.Sprintf(format, args...)}
}

// Absent reports whether the key was not given.
func (n Node) Absent() bool { return n.n == nil }

// IsNull reports whether the value is absent or YAML null.
func (n Node) IsNull() bool {
	v := n.value()
	return v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null")
}

// IsMap reports whether the value is a mapping.
func (n Node) IsMap() bool { v := n.value(); return v != nil && v.Kind == yaml.MappingNode }

// value follows aliases.
func (n Node) value() *yaml.Node {
	v := n.n
	for i := 0; v != nil && v.Kind == yaml.AliasNode && i < 64; i++ {
		v = v.Alias
	}
	if v != nil && v.Kind == yaml.AliasNode {
		return nil
	}
	return v
}

func (n Node) child(key string) string {
	if n.path == "" {
		return key
	}
	return n.path + "." + key
}

// Map returns a mapping's values by key. With known keys, any other key is
// an error naming it and the known ones. Absent known keys come back as
// absent Nodes (Absent, IsNull), so callers can read defaults from them.
func (n Node) Map(known ...string) (map[string]Node, error) {
	v := n.value()
	if v == nil || v.Kind != yaml.MappingNode {
		return nil, n.Errorf("must be a mapping (got %s)", n.kind())
	}
	out := make(map[string]Node, len(v.Content)/2+len(known))
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, (Node{file: n.file, path: n.path, n: k}).Errorf("keys must be plain strings")
		}
		key := k.Value
		at := Node{file: n.file, path: n.child(key), n: k}
		if key == "<<" {
			return nil, at.Errorf("YAML merge keys are not supported")
		}
		if _, dup := out[key]; dup {
			return nil, at.Errorf("duplicate key")
		}
		if len(known) > 0 && !slices.Contains(known, key) {
			sorted := slices.Sorted(slices.Values(known))
			return nil, at.Errorf("unknown key (known: %s)", strings.Join(sorted, ", "))
		}
		out[key] = Node{file: n.file, path: n.child(key), n: val, line: k.Line}
	}
	for _, key := range known {
		if _, ok := out[key]; !ok {
			out[key] = Node{file: n.file, path: n.child(key), line: v.Line}
		}
	}
	return out, nil
}

// Fields is Map for an optional section: a null or absent value gives
// every known key as absent (placed at the section), so defaults apply.
func (n Node) Fields(known ...string) (map[string]Node, error) {
	if !n.IsNull() {
		return n.Map(known...)
	}
	out := make(map[string]Node, len(known))
	for _, key := range known {
		out[key] = Node{file: n.file, path: n.child(key), line: n.Line()}
	}
	return out, nil
}

// Seq returns a sequence's items; null is an empty sequence.
func (n Node) Seq() ([]Node, error) {
	if n.IsNull() {
		return nil, nil
	}
	v := n.value()
	if v.Kind != yaml.SequenceNode {
		return nil, n.Errorf("must be a list (got %s)", n.kind())
	}
	out := make([]Node, len(v.Content))
	for i, c := range v.Content {
		out[i] = Node{file: n.file, path: fmt.Sprintf("%s[%d]", n.path, i), n: c, line: c.Line}
	}
	return out, nil
}

// kind names the value's YAML kind for error messages.
func (n Node) kind() string {
	v := n.value()
	switch {
	case v == nil:
		return "nothing"
	case v.Kind == yaml.MappingNode:
		return "a mapping"
	case v.Kind == yaml.SequenceNode:
		return "a list"
	case v.Tag == "!!null":
		return "null"
	case v.Tag == "!!str":
		return strconv.Quote(truncate(v.Value))
	}
	return truncate(v.Value)
}

// truncate keeps messages short: at most 40 runes of a value.
func truncate(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}

func (n Node) scalar(tags ...string) (*yaml.Node, bool) {
	v := n.value()
	if v == nil || v.Kind != yaml.ScalarNode {
		return nil, false
	}
	return v, slices.Contains(tags, v.Tag)
}

// Float reads a YAML number. NaN and infinities are errors.
func (n Node) Float() (float64, error) {
	v, ok := n.scalar("!!int", "!!float")
	if !ok {
		return 0, n.Errorf("must be a number (got %s)", n.kind())
	}
	var f float64
	if err := v.Decode(&f); err != nil {
		return 0, n.Errorf("must be a number (got %s)", n.kind())
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, n.Errorf("must be a finite number (got %s)", v.Value)
	}
	return f, nil
}

// Int reads a YAML integer; a float with no fraction is accepted (as
// pydantic does: 600.0 is 600).
func (n Node) Int() (int64, error) {
	v, ok := n.scalar("!!int", "!!float")
	if !ok {
		return 0, n.Errorf("must be an integer (got %s)", n.kind())
	}
	if v.Tag == "!!int" {
		var i int64
		if err := v.Decode(&i); err != nil {
			return 0, n.Errorf("must be an integer within ±2^63 (got %s)", truncate(v.Value))
		}
		return i, nil
	}
	f, err := n.Float()
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) >= 1<<62 {
		return 0, n.Errorf("must be an integer (got %s)", v.Value)
	}
	return int64(f), nil
}

// Bool reads a YAML boolean.
func (n Node) Bool() (bool, error) {
	v, ok := n.scalar("!!bool")
	if !ok {
		return false, n.Errorf("must be true or false (got %s)", n.kind())
	}
	var b bool
	if err := v.Decode(&b); err != nil {
		return false, n.Errorf("must be true or false (got %s)", n.kind())
	}
	return b, nil
}

// String reads a scalar as its text (a number or boolean keeps its
// spelling: a model name may look like a number).
func (n Node) String() (string, error) {
	v, ok := n.scalar("!!str", "!!int", "!!float", "!!bool")
	if !ok {
		return "", n.Errorf("must be a string (got %s)", n.kind())
	}
	return v.Value, nil
}
