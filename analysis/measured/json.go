package measured

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/internal/yamlpos"
)

// A small JSON tree that remembers where each value is, so that a bad
// value is reported as "FILE:LINE: field: reason" (encoding/json's own
// errors name neither). Objects keep their keys; unknown keys are left to
// the caller (inference-perf adds report fields over time).

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNum
	jStr
	jObj
	jArr
)

type jnode struct {
	kind jkind
	off  int64 // byte offset where the value's token ends
	num  float64
	str  string
	obj  map[string]*jnode
	arr  []*jnode
}

// jdoc is one parsed file.
type jdoc struct {
	file string
	data []byte
	root *jnode
}

// maxDepth bounds nesting (a report is a few levels deep).
const maxDepth = 64

func parseJSON(file string, data []byte) (*jdoc, error) {
	d := &jdoc{file: file, data: data}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := d.value(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, d.errAt(dec.InputOffset(), "", "text after the JSON value")
	}
	d.root = root
	return d, nil
}

func (d *jdoc) value(dec *json.Decoder, depth int) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, d.syntax(dec, err)
	}
	n := &jnode{off: dec.InputOffset()}
	switch v := tok.(type) {
	case nil:
		n.kind = jNull
	case bool:
		n.kind = jBool
		if v {
			n.num = 1
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, d.errAt(n.off, "", fmt.Sprintf("number %s out of range", v))
		}
		n.kind, n.num = jNum, f
	case string:
		n.kind, n.str = jStr, v
	case json.Delim:
		if depth >= maxDepth {
			return nil, d.errAt(n.off, "", fmt.Sprintf("nested deeper than %d levels", maxDepth))
		}
		if v == '[' {
			n.kind = jArr
			for dec.More() {
				c, err := d.value(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, c)
			}
		} else {
			n.kind, n.obj = jObj, map[string]*jnode{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, d.syntax(dec, err)
				}
				key, _ := kt.(string)
				if _, dup := n.obj[key]; dup {
					return nil, d.errAt(dec.InputOffset(), key, "duplicate key")
				}
				c, err := d.value(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.obj[key] = c
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, d.syntax(dec, err)
		}
	}
	return n, nil
}

func (d *jdoc) syntax(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errAt(int64(len(d.data)), "", "unexpected end of JSON")
	}
	// The decoder's offsets land at or before the bad character: its
	// line is that of the next character that is not white space.
	off := dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = max(off, se.Offset)
	}
	off = min(max(off, 0), int64(len(d.data)))
	for off < int64(len(d.data)) && strings.IndexByte(" \t\r\n", d.data[off]) >= 0 {
		off++
	}
	return d.errAt(off+1, "", "JSON: "+err.Error())
}

// errAt is an error on the line of the byte before off (values record
// the offset where their token ends).
func (d *jdoc) errAt(off int64, field, reason string) error {
	end := min(max(off-1, 0), int64(len(d.data)))
	line := 1 + bytes.Count(d.data[:end], []byte{'\n'})
	return &yamlpos.Error{File: d.file, Line: line, Field: field, Reason: reason}
}

// at is a value with its dotted path, for typed reads.
type at struct {
	d    *jdoc
	n    *jnode // nil: absent
	path string
	off  int64 // where an absent value's object is
}

func (a at) errorf(format string, args ...any) error {
	off := a.off
	if a.n != nil {
		off = a.n.off
	}
	return a.d.errAt(off, a.path, fmt.Sprintf(format, args...))
}

func (a at) absent() bool { return a.n == nil }
func (a at) null() bool   { return a.n == nil || a.n.kind == jNull }

// get is the value of key in an object (absent if a is not an object).
func (a at) get(key string) at {
	p := key
	if a.path != "" {
		p = a.path + "." + key
	}
	r := at{d: a.d, path: p, off: a.off}
	if a.n != nil {
		r.off = a.n.off
		if a.n.kind == jObj {
			r.n = a.n.obj[key]
		}
	}
	return r
}

// object requires an object.
func (a at) object() error {
	if a.n == nil {
		return a.errorf("missing")
	}
	if a.n.kind != jObj {
		return a.errorf("must be an object")
	}
	return nil
}

// number requires a number.
func (a at) number() (float64, error) {
	if a.n == nil {
		return 0, a.errorf("missing")
	}
	if a.n.kind != jNum {
		return 0, a.errorf("must be a number")
	}
	return a.n.num, nil
}

// count requires a non-negative integer.
func (a at) count() (int64, error) {
	f, err := a.number()
	if err != nil {
		return 0, err
	}
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, a.errorf("must be a non-negative integer (got %g)", f)
	}
	return int64(f), nil
}

// optNumber reads a number that may be absent or null (ok false then).
func (a at) optNumber() (float64, bool, error) {
	if a.null() {
		return 0, false, nil
	}
	f, err := a.number()
	return f, err == nil, err
}
