package analysis

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
)

// The cell codec writes a value as JSON that reads back to the identical
// value, so a comparison assembled from cell files on another machine
// renders the same bytes as one assembled in memory. encoding/json is not
// enough: it refuses NaN and infinities (a hit-ratio series over an empty
// window is NaN), and a report tells an empty map or slice ("{}", "[]")
// from a nil one ("null"), which encoding/gob does not keep. So the codec
// walks the value by reflection: every exported field by its Go name
// (report tags are ignored: they drop fields such as per-request rows),
// floats as the shortest decimal that parses back to the same bits or
// the strings "NaN", "+Inf", "-Inf", nil slices, maps and pointers as null.
// Reading is strict: a missing or unknown field, a value of the wrong
// kind or out of range is an error naming its path.

// encodeExact appends v's exact JSON to b.
func encodeExact(b []byte, v reflect.Value, path string) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		x := v.Float()
		switch {
		case math.IsNaN(x):
			return append(b, `"NaN"`...), nil
		case math.IsInf(x, 1):
			return append(b, `"+Inf"`...), nil
		case math.IsInf(x, -1):
			return append(b, `"-Inf"`...), nil
		}
		return strconv.AppendFloat(b, x, 'g', -1, v.Type().Bits()), nil
	case reflect.String:
		s, err := json.Marshal(v.String())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return append(b, s...), nil
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return encodeExact(b, v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = encodeExact(b, v.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map keys of type %s cannot be written", path, v.Type().Key())
		}
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, c reflect.Value) int {
			return cmp.Compare(a.String(), c.String())
		})
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			ks, _ := json.Marshal(k.String())
			b = append(append(b, ks...), ':')
			var err error
			if b, err = encodeExact(b, v.MapIndex(k), path+"["+strconv.Quote(k.String())+"]"); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.Struct:
		t := v.Type()
		b = append(b, '{')
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return nil, fmt.Errorf("%s.%s: unexported field cannot be carried in a cell file", path, f.Name)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(append(append(b, '"'), f.Name...), `":`...)
			var err error
			if b, err = encodeExact(b, v.Field(i), path+"."+f.Name); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("%s: values of type %s cannot be written", path, v.Type())
}

// decodeExact reads data (written by encodeExact) into v, a settable
// value of the written type.
func decodeExact(data []byte, v reflect.Value, path string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return setExact(v, tree, path)
}

func kindName(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}

func setExact(v reflect.Value, x any, path string) error {
	wrong := func(want string) error {
		return fmt.Errorf("%s: want %s, got %s", path, want, kindName(x))
	}
	switch v.Kind() {
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return wrong("a boolean")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := x.(json.Number)
		if !ok {
			return wrong("an integer")
		}
		i, err := strconv.ParseInt(string(n), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer of %d bits", path, n, v.Type().Bits())
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := x.(json.Number)
		if !ok {
			return wrong("an integer")
		}
		u, err := strconv.ParseUint(string(n), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%s: %q is not an unsigned integer of %d bits", path, n, v.Type().Bits())
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch t := x.(type) {
		case json.Number:
			var err error
			if f, err = strconv.ParseFloat(string(t), v.Type().Bits()); err != nil {
				return fmt.Errorf("%s: %q is not a number", path, t)
			}
		case string:
			switch t {
			case "NaN":
				f = math.NaN()
			case "+Inf":
				f = math.Inf(1)
			case "-Inf":
				f = math.Inf(-1)
			default:
				return fmt.Errorf("%s: %q is not a number (NaN, +Inf or -Inf)", path, t)
			}
		default:
			return wrong("a number")
		}
		v.SetFloat(f)
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return wrong("a string")
		}
		v.SetString(s)
	case reflect.Pointer:
		if x == nil {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := setExact(p.Elem(), x, path); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Slice, reflect.Array:
		if x == nil && v.Kind() == reflect.Slice {
			v.SetZero()
			return nil
		}
		a, ok := x.([]any)
		if !ok {
			return wrong("an array")
		}
		if v.Kind() == reflect.Array {
			if len(a) != v.Len() {
				return fmt.Errorf("%s: want %d elements, got %d", path, v.Len(), len(a))
			}
		} else {
			v.Set(reflect.MakeSlice(v.Type(), len(a), len(a)))
		}
		for i, e := range a {
			if err := setExact(v.Index(i), e, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		if x == nil {
			v.SetZero()
			return nil
		}
		m, ok := x.(map[string]any)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return wrong("an object")
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := setExact(ev, e, path+"["+strconv.Quote(k)+"]"); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(out)
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return wrong("an object")
		}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			e, ok := m[f.Name]
			if !ok {
				return fmt.Errorf("%s.%s: missing", path, f.Name)
			}
			if !f.IsExported() {
				return fmt.Errorf("%s.%s: unexported field cannot be carried in a cell file", path, f.Name)
			}
			if err := setExact(v.Field(i), e, path+"."+f.Name); err != nil {
				return err
			}
		}
		if len(m) != t.NumField() {
			var unknown []string
			for k := range m {
				if f, ok := t.FieldByName(k); !ok || len(f.Index) != 1 {
					unknown = append(unknown, k)
				}
			}
			slices.Sort(unknown)
			return fmt.Errorf("%s.%s: unknown field", path, unknown[0])
		}
	default:
		return fmt.Errorf("%s: values of type %s cannot be read", path, v.Type())
	}
	return nil
}
