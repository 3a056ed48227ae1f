package analysis

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/curve"
	"github.com/kvscope/kvscope/replay/kvcache"
	"github.com/kvscope/kvscope/replay/trace"
)

// CurveJSONVersion is the version of the curve report's JSON schema.
const CurveJSONVersion = 1

// CurveCSVHeader is the CSV report's header: one row per listed point.
var CurveCSVHeader = []string{"cache_blocks", "cache_tokens", "kv_gib", "block_hit_ratio", "token_hit_ratio", "hit_blocks", "hit_tokens"}

// WriteCSV writes one row per point (every step, or --at's).
func (r *CurveReport) WriteCSV(out io.Writer) error {
	w := bufio.NewWriterSize(out, 1<<16)
	w.WriteString(strings.Join(CurveCSVHeader, ",") + "\n")
	var buf []byte
	err := r.eachPoint(func(p curve.Point) error {
		buf = r.appendPoint(buf[:0], p, false)
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// appendPoint writes one point as a CSV row or a JSON object line.
func (r *CurveReport) appendPoint(b []byte, p curve.Point, asJSON bool) []byte {
	f := func(x float64) []byte {
		if math.IsNaN(x) {
			if asJSON {
				return []byte("null")
			}
			return nil
		}
		return strconv.AppendFloat(nil, x, 'g', -1, 64)
	}
	blocks := strconv.AppendInt(nil, p.Capacity, 10)
	if r.Curve.Unit == kvcache.Tokens {
		blocks = strconv.AppendFloat(nil, float64(p.Capacity)/float64(r.Curve.BlockSize), 'g', -1, 64)
	}
	vals := [][]byte{blocks, strconv.AppendInt(nil, r.Tokens(p.Capacity), 10), f(r.GiB(p.Capacity)),
		f(p.BlockHitRatio), f(p.TokenHitRatio), strconv.AppendInt(nil, p.HitBlocks, 10), strconv.AppendInt(nil, p.HitTokens, 10)}
	if !asJSON {
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
		return append(b, '\n')
	}
	b = append(b, "    {"...)
	for i, v := range vals {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, CurveCSVHeader[i]...)
		b = append(b, `": `...)
		b = append(b, v...)
	}
	return append(b, '}')
}

// curveJSONPoint is a point in the JSON head (knees, markers, unbounded).
type curveJSONPoint struct {
	Capacity      int64 `json:"capacity"`
	HitBlocks     int64 `json:"hit_blocks"`
	HitTokens     int64 `json:"hit_tokens"`
	BlockHitRatio F     `json:"block_hit_ratio"`
	TokenHitRatio F     `json:"token_hit_ratio"`
}

func jsonPoint(p curve.Point) *curveJSONPoint {
	return &curveJSONPoint{p.Capacity, p.HitBlocks, p.HitTokens, F(p.BlockHitRatio), F(p.TokenHitRatio)}
}

// WriteJSON writes the versioned JSON report; "points" (last) has one
// object per listed point: every capacity where the ratio changes, from L,
// or exactly --at's.
func (r *CurveReport) WriteJSON(out io.Writer) error {
	cv := r.Curve
	type knee struct {
		CurveKnee
		Point *curveJSONPoint `json:"point"`
	}
	type marker struct {
		CurveMarker
		Point *curveJSONPoint `json:"point"`
	}
	type optJ struct {
		Capacity    int64  `json:"capacity"`
		LRU         F      `json:"lru"`
		Opt         F      `json:"opt"`
		Bound       F      `json:"bound"`
		OptLabel    string `json:"opt_label"`
		BoundLabel  string `json:"bound_label"`
		OptMissed   int64  `json:"opt_missed"`
		BoundMissed int64  `json:"belady_missed"`
	}
	head := struct {
		Version        int             `json:"version"`
		KVScopeVersion string          `json:"kvscope_version"`
		Command        string          `json:"command"`
		Trace          trace.Info      `json:"trace"`
		Unit           string          `json:"unit"`
		BlockSize      int             `json:"block_size"`
		Workers        int             `json:"workers"`
		Router         string          `json:"router"`
		Evict          string          `json:"evict"`
		Seed           uint64          `json:"seed"`
		Scenario       string          `json:"scenario"`
		Oversize       string          `json:"oversize"`
		Sample         float64         `json:"sample_rate"`
		Exact          bool            `json:"exact"`
		Requests       int             `json:"requests"`
		InputBlocks    int64           `json:"input_blocks"`
		InputTokens    int64           `json:"input_tokens"`
		SampledBlocks  int64           `json:"sampled_blocks"`
		MinCapacity    int64           `json:"min_capacity"`
		Saturation     int64           `json:"saturation_capacity"`
		Unbounded      *curveJSONPoint `json:"unbounded"`
		Model          string          `json:"model,omitempty"`
		KVBytes        int64           `json:"kv_bytes_per_token,omitempty"`
		Mark           int64           `json:"marked_capacity,omitempty"`
		Knees          []knee          `json:"knees"`
		Markers        []marker        `json:"markers"`
		Opt            []optJ          `json:"opt"`
		RLT            []CurveRLT      `json:"rlt"`
	}{Version: CurveJSONVersion, KVScopeVersion: r.Version, Command: r.Command, Trace: cv.Trace, Unit: r.unit(),
		BlockSize: cv.BlockSize, Workers: cv.Workers, Router: cv.Router, Evict: cv.Evict, Seed: cv.Seed, Scenario: r.Scenario,
		Oversize: cv.Oversize,
		Sample:   cv.Sample, Exact: cv.Sample == 1, Requests: cv.Requests, InputBlocks: cv.InputBlocks, InputTokens: cv.InputTokens,
		SampledBlocks: cv.SampledBlocks, MinCapacity: cv.MinCapacity, Saturation: cv.MaxCapacity, Unbounded: jsonPoint(r.Unbounded),
		KVBytes: r.KVBytesPerToken, Mark: r.Options.Mark,
		Knees: []knee{}, Markers: []marker{}, Opt: []optJ{}, RLT: r.RLT}
	if r.Model != nil {
		head.Model = r.Model.Name
	}
	if head.RLT == nil {
		head.RLT = []CurveRLT{}
	}
	for _, k := range r.Knees {
		head.Knees = append(head.Knees, knee{k, jsonPoint(k.Point)})
	}
	for _, m := range r.Markers {
		j := marker{CurveMarker: m}
		if m.HasPoint {
			j.Point = jsonPoint(m.Point)
		}
		head.Markers = append(head.Markers, j)
	}
	for _, o := range r.Opt {
		head.Opt = append(head.Opt, optJ{o.Capacity, F(o.LRU), F(o.Opt), F(o.Bound), o.OptLabel, o.BoundLabel, o.OptMissed, o.BoundMissed})
	}
	hb, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	// The head object, then "points" streamed (a curve has up to one
	// point per unique block).
	w := bufio.NewWriterSize(out, 1<<16)
	w.Write(hb[:len(hb)-2]) // drop "\n}"
	w.WriteString(",\n  \"points\": [")
	var buf []byte
	first := true
	err = r.eachPoint(func(p curve.Point) error {
		if first {
			w.WriteString("\n")
			first = false
		} else {
			w.WriteString(",\n")
		}
		buf = r.appendPoint(buf[:0], p, true)
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	if !first {
		w.WriteString("\n  ")
	}
	w.WriteString("]\n}\n")
	return w.Flush()
}
