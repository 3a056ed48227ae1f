package analysis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kvscope/kvscope/internal/atomicfile"
	"github.com/kvscope/kvscope/replay/trace"
)

// A sweep that scales out is a comparison cut into its cells, the distinct
// runs (one scenario at one swept value and one seed) that ComparePlan
// collects: `kvscope sweep plan` writes them to a cells file, `sweep run`
// runs one shard of them anywhere (cell i belongs to shard i mod N) and
// writes one result file per cell, and `sweep merge` assembles the
// comparison from the result files exactly as Compare assembles it from
// its in-memory runs, so the report is the same, byte for byte.
//
// The spec hash is SHA-256 over the spec's JSON: the cell kind, kvscope's
// version, the trace path, the SHA-256 and size of the trace file's
// content (a content hash rather than size and mtime: a copy of the trace
// on a volume keeps its hash, and an edited trace of the same size does
// not), and the command's arguments. Every result file carries the hash;
// run and merge re-plan the cells from the spec and refuse a cells file
// whose cells differ, a binary of another version, a trace whose content
// differs and a result file of another sweep.
//
// Cell kinds: "compare" (the cells of `compare --sweep`). A planner's
// cells (`kvscope plan`) would be another kind with their own result
// payload beside the same file envelope.

// SweepFileVersion is the version of the cells and result files' schema.
const SweepFileVersion = 1

// CellKindCompare is the kind of the cells of a comparison.
const CellKindCompare = "compare"

// cellKinds lists the cell kinds this version reads.
var cellKinds = []string{CellKindCompare}

// SweepSpec is what a sweep's cells and results derive from.
type SweepSpec struct {
	Kind           string `json:"kind"`
	KVScopeVersion string `json:"kvscope_version"`
	// Trace is the trace path as given to `sweep plan` (the report's
	// trace source); TraceSHA256 and TraceBytes are its content's.
	Trace       string `json:"trace"`
	TraceSHA256 string `json:"trace_sha256"`
	TraceBytes  int64  `json:"trace_bytes"`
	// Args are the command's arguments after the trace (for kind compare:
	// compare's flags less -o and --parallel).
	Args []string `json:"args"`
}

// Hash returns "sha256:" and the hex SHA-256 of the spec's JSON.
func (s SweepSpec) Hash() string {
	b, _ := json.Marshal(s) // strings and numbers only: cannot fail
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SweepCell is one cell: a run of the planned comparison.
type SweepCell struct {
	ID   int    `json:"id"`
	Kind string `json:"kind"`
	// Key is the run's canonical scenario string (with its seed).
	Key string `json:"key"`
	// Charts and Records say whether the run keeps its chart series and
	// its per-request rows.
	Charts  bool `json:"charts"`
	Records bool `json:"records"`
}

// SweepCells is a cells file: the spec, its hash, the trace's description
// for the report, and the cells.
type SweepCells struct {
	SpecHash string
	Spec     SweepSpec
	Trace    trace.Info
	Stats    *trace.Stats
	Cells    []SweepCell
}

// cellsFile is the cells file's JSON; the trace's description goes
// through the exact codec (its statistics may hold NaN).
type cellsFile struct {
	Version  int             `json:"kvscope_sweep"`
	SpecHash string          `json:"spec_hash"`
	Spec     SweepSpec       `json:"spec"`
	Trace    json.RawMessage `json:"trace_info"`
	Stats    json.RawMessage `json:"trace_stats"`
	Cells    []SweepCell     `json:"cells"`
}

// Cells returns the plan's cells, in job order (their ids).
func (cp *ComparePlan) Cells() []SweepCell {
	out := make([]SweepCell, len(cp.p.jobs))
	for i, j := range cp.p.jobs {
		out[i] = SweepCell{ID: i, Kind: CellKindCompare, Key: j.key, Charts: j.charts, Records: j.keep}
	}
	return out
}

// TraceDigest returns the hex SHA-256 and the size of a file's content.
func TraceDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// WriteSweepCells writes the cells file atomically.
func WriteSweepCells(path string, c *SweepCells) error {
	ti, err := encodeExact(nil, reflect.ValueOf(c.Trace), "trace_info")
	if err != nil {
		return err
	}
	ts, err := encodeExact(nil, reflect.ValueOf(c.Stats), "trace_stats")
	if err != nil {
		return err
	}
	doc := cellsFile{Version: SweepFileVersion, SpecHash: c.Spec.Hash(), Spec: c.Spec, Trace: ti, Stats: ts, Cells: c.Cells}
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(doc)
	})
}

// ReadSweepCells reads and checks a cells file: its version, that its
// hash is its spec's, and that its cells are numbered 0..n−1 with known
// kinds. Errors name the file and the field.
func ReadSweepCells(path string) (*SweepCells, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc cellsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: not a sweep cells file (kvscope sweep plan writes one): %w", path, jsonErr(data, err))
	}
	if doc.Version != SweepFileVersion {
		return nil, fmt.Errorf("%s: kvscope_sweep: version %d, this kvscope reads version %d", path, doc.Version, SweepFileVersion)
	}
	if !slices.Contains(cellKinds, doc.Spec.Kind) {
		return nil, fmt.Errorf("%s: spec.kind: %q is not a cell kind this kvscope runs (%s)", path, doc.Spec.Kind, strings.Join(cellKinds, ", "))
	}
	if h := doc.Spec.Hash(); doc.SpecHash != h {
		return nil, fmt.Errorf("%s: spec_hash: %s is not the hash of its spec (%s): the file was edited or is corrupt; plan it again", path, doc.SpecHash, h)
	}
	c := &SweepCells{SpecHash: doc.SpecHash, Spec: doc.Spec, Cells: doc.Cells}
	if err := decodeExact(doc.Trace, reflect.ValueOf(&c.Trace).Elem(), "trace_info"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := decodeExact(doc.Stats, reflect.ValueOf(&c.Stats).Elem(), "trace_stats"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Cells) == 0 {
		return nil, fmt.Errorf("%s: cells: none", path)
	}
	for i, cell := range c.Cells {
		if cell.ID != i {
			return nil, fmt.Errorf("%s: cells[%d].id: %d, want %d (cells are numbered in order from 0)", path, i, cell.ID, i)
		}
		if cell.Kind != doc.Spec.Kind {
			return nil, fmt.Errorf("%s: cells[%d].kind: %q in a sweep of kind %q", path, i, cell.Kind, doc.Spec.Kind)
		}
	}
	return c, nil
}

// jsonErr adds the line of a JSON syntax or type error.
func jsonErr(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + strings.Count(string(data[:off]), "\n")
	return fmt.Errorf("line %d: %w", line, err)
}

// CheckPlan checks that the plan re-made from the spec gives the file's
// cells (same number, same keys, same kept data).
func (c *SweepCells) CheckPlan(path string, planned []SweepCell) error {
	if len(planned) != len(c.Cells) {
		return fmt.Errorf("%s: cells: %d cells, but its spec plans %d (edited, or planned by another kvscope)", path, len(c.Cells), len(planned))
	}
	for i := range planned {
		if planned[i] != c.Cells[i] {
			return fmt.Errorf("%s: cells[%d]: %+v, but its spec plans %+v (edited, or planned by another kvscope)", path, i, c.Cells[i], planned[i])
		}
	}
	return nil
}

// CellResult is one cell's outcome: the run's metrics, its chart series
// and request rows when the cell keeps them, or the error that stopped it.
type CellResult struct {
	Metrics RunMetrics
	Charts  *ChartData
	Records []RequestRow
	Error   string
}

func (r *CellResult) job() jobResult {
	jr := jobResult{m: r.Metrics, charts: r.Charts, records: r.Records}
	if r.Error != "" {
		jr.err = errors.New(r.Error)
	}
	return jr
}

// RunCell runs cell i of the plan on tr, or, when the plan is streamed
// (SetStream), on a fresh reading of the trace (tr is then not used; a
// reading error is the cell's error).
func (cp *ComparePlan) RunCell(ctx context.Context, tr *trace.Trace, i int) CellResult {
	var jr jobResult
	if cp.so != nil {
		jr, _ = runOneStream(ctx, cp.open, cp.p.jobs[i], cp.opt.Points, *cp.so)
		if rows := jr.rows; rows != nil {
			// A cell's result file holds its rows (sweep plan --records).
			err := rows.each(func(q *RequestRow) error { jr.records = append(jr.records, *q); return nil })
			rows.Close()
			jr.rows = nil
			if err != nil && jr.err == nil {
				jr.err = err
			}
		}
	} else {
		jr = runOne(ctx, tr, cp.p.jobs[i], cp.opt.Points, nil)
	}
	r := CellResult{Metrics: jr.m, Charts: jr.charts, Records: jr.records}
	if jr.err != nil {
		r.Error = jr.err.Error()
	}
	return r
}

// RunCells runs the cells ids on par goroutines (GOMAXPROCS when ≤ 0): a
// cell whose run fails runs again, up to retries more times, and done
// hears every cell's final result and attempts (serialised). It stops
// handing out cells when ctx is done, and returns ctx's error or the
// first error of done.
func (cp *ComparePlan) RunCells(ctx context.Context, tr *trace.Trace, ids []int, par, retries int, done func(id, attempts int, r CellResult) error) error {
	var (
		mu    sync.Mutex
		first error
	)
	err := forEach(ctx, len(ids), par, func(k int) {
		id := ids[k]
		var r CellResult
		attempts := 0
		for attempts <= retries && ctx.Err() == nil {
			attempts++
			if r = cp.RunCell(ctx, tr, id); r.Error == "" {
				break
			}
		}
		if ctx.Err() != nil {
			return // a cancelled run is not a result
		}
		mu.Lock()
		defer mu.Unlock()
		if err := done(id, attempts, r); err != nil && first == nil {
			first = err
		}
	}, nil)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return first
}

// cellFile is a result file: the envelope and the exact result.
type cellFile struct {
	Version  int    `json:"kvscope_sweep_result"`
	SpecHash string `json:"spec_hash"`
	Cell     int    `json:"cell"`
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	Attempts int    `json:"attempts"`
	// Error repeats the result's error for a reader of the file.
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result"`
}

// CellFileName is the name of cell id's result file.
func CellFileName(id int) string { return fmt.Sprintf("cell-%06d.json", id) }

// WriteCellResult writes cell id's result file into dir atomically.
func (c *SweepCells) WriteCellResult(dir string, id, attempts int, r CellResult) error {
	raw, err := encodeExact(nil, reflect.ValueOf(r), "result")
	if err != nil {
		return fmt.Errorf("cell %d: %w", id, err)
	}
	doc := cellFile{Version: SweepFileVersion, SpecHash: c.SpecHash, Cell: id, Kind: c.Cells[id].Kind,
		Key: c.Cells[id].Key, Attempts: attempts, Error: r.Error, Result: raw}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("cell %d: %w", id, err)
	}
	return atomicfile.Write(filepath.Join(dir, CellFileName(id)), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// ReadCellResult reads and checks one result file against the cells.
func (c *SweepCells) ReadCellResult(path string) (int, CellResult, error) {
	var r CellResult
	data, err := os.ReadFile(path)
	if err != nil {
		return -1, r, err
	}
	var doc cellFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return -1, r, fmt.Errorf("%s: corrupt cell result (run its shard again): %w", path, jsonErr(data, err))
	}
	switch {
	case doc.Version != SweepFileVersion:
		return -1, r, fmt.Errorf("%s: kvscope_sweep_result: version %d, this kvscope reads version %d", path, doc.Version, SweepFileVersion)
	case doc.SpecHash != c.SpecHash:
		return -1, r, fmt.Errorf("%s: spec_hash: %s, but the cells file's is %s: a result of another sweep spec", path, doc.SpecHash, c.SpecHash)
	case doc.Cell < 0 || doc.Cell >= len(c.Cells):
		return -1, r, fmt.Errorf("%s: cell: %d is out of range 0..%d", path, doc.Cell, len(c.Cells)-1)
	case filepath.Base(path) != CellFileName(doc.Cell):
		return -1, r, fmt.Errorf("%s: cell: %d, but the file is named for another cell (want %s)", path, doc.Cell, CellFileName(doc.Cell))
	case doc.Key != c.Cells[doc.Cell].Key:
		return -1, r, fmt.Errorf("%s: key: %q, but cell %d is %q", path, doc.Key, doc.Cell, c.Cells[doc.Cell].Key)
	case doc.Kind != c.Cells[doc.Cell].Kind:
		return -1, r, fmt.Errorf("%s: kind: %q, but cell %d is of kind %q", path, doc.Kind, doc.Cell, c.Cells[doc.Cell].Kind)
	}
	if err := decodeExact(doc.Result, reflect.ValueOf(&r).Elem(), "result"); err != nil {
		return -1, r, fmt.Errorf("%s: corrupt cell result (run its shard again): %w", path, err)
	}
	return doc.Cell, r, nil
}

// isCellFile reports whether a name is a result file's.
func isCellFile(name string) bool {
	d, ok := strings.CutPrefix(name, "cell-")
	if !ok {
		return false
	}
	d, ok = strings.CutSuffix(d, ".json")
	if !ok || d == "" {
		return false
	}
	_, err := strconv.ParseUint(d, 10, 63)
	return err == nil
}

// CellDone reports whether dir holds a valid result of cell id with no
// error (a resumed shard skips it; a failed cell runs again).
func (c *SweepCells) CellDone(dir string, id int) bool {
	got, r, err := c.ReadCellResult(filepath.Join(dir, CellFileName(id)))
	return err == nil && got == id && r.Error == ""
}

// MergeSweep reads every result file in dirs and assembles the plan's
// comparison from them. A missing cell is an error listing every missing
// id; so is a corrupt file, a result of another sweep, and one cell with
// two different results.
func (c *SweepCells) MergeSweep(cp *ComparePlan, dirs []string) (*Comparison, error) {
	var paths []string
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() && isCellFile(e.Name()) {
				paths = append(paths, filepath.Join(d, e.Name()))
			}
		}
	}
	type read struct {
		id  int
		r   CellResult
		err error
	}
	reads := make([]read, len(paths))
	_ = forEach(context.Background(), len(paths), 0, func(i int) {
		id, r, err := c.ReadCellResult(paths[i])
		reads[i] = read{id, r, err}
	}, nil)
	results := make([]jobResult, len(c.Cells))
	from := make([]string, len(c.Cells))
	for i, rd := range reads {
		if rd.err != nil {
			return nil, rd.err
		}
		if prev := from[rd.id]; prev != "" {
			a, _ := os.ReadFile(prev)
			b, _ := os.ReadFile(paths[i])
			if !sameResult(a, b) {
				return nil, fmt.Errorf("cell %d: two different results, %s and %s", rd.id, prev, paths[i])
			}
			continue
		}
		from[rd.id] = paths[i]
		results[rd.id] = rd.r.job()
	}
	var missing []int
	for id, p := range from {
		if p == "" {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sweep merge: %d of %d cells have no result in %s: cell ids %s (cell i belongs to shard i mod N: run those shards again)",
			len(missing), len(c.Cells), strings.Join(dirs, ", "), idRanges(missing))
	}
	if cp.so != nil {
		// A streamed sweep's cells read the trace's description as they
		// ran (its skipped lines are known only at the end), from the
		// planned path.
		info := c.Trace
		if i, ok := firstRun(results); ok {
			info = results[i].m.Trace
			info.Source = c.Trace.Source
		}
		return cp.streamed(info, results, Timing{Runs: len(c.Cells)}), nil
	}
	return cp.assemble(c.Trace, results, Timing{Runs: len(c.Cells)}), nil
}

// sameResult compares two result files but for their attempt counts.
func sameResult(a, b []byte) bool {
	var x, y cellFile
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	x.Attempts, y.Attempts = 0, 0
	return reflect.DeepEqual(x, y)
}

// idRanges writes sorted ids as "1, 4-7, 9".
func idRanges(ids []int) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ids[i]))
		} else {
			parts = append(parts, strconv.Itoa(ids[i])+"-"+strconv.Itoa(ids[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
