package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var (
		at                  string
		events, from, count int
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Read a spilled run back (kvscope run --spill DIR): the cluster at an instant, its events, any request",
		Long: "inspect reads the run `kvscope run --spill DIR` wrote, only the rows it prints: a run of\n" +
			"10 million requests opens at once. It prints the run (its span, capacity, router load\n" +
			"unit, preemptions), every worker's state at --at (queue, running, cache blocks, hit\n" +
			"ratio so far, busy time, router load), the --events events from that instant on and,\n" +
			"with --count, the records from request --from on with each request's own fields\n" +
			"(input and output tokens, blocks, session, turn, trace line) and, for a run spilled with\n" +
			"its detail (run --spill-detail, or an explorer's kept --stream runs), every worker's router\n" +
			"score and true cached prefix at the request's arrival.\n" +
			"--at is a time after the run's first event (90s, 1h30m, 2.5), or end.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if events < 0 || from < 0 || count < 0 {
				return usagef("--events, --from and --count: want 0 or more")
			}
			sp, err := sim.OpenSpill(args[0])
			if err != nil {
				return err
			}
			defer sp.Close()
			in, err := readSpilled(sp, at, events, from, count)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			in.print(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "end", "instant to show: a duration after the run's first event (90s, 1h30m), seconds (2.5), or end")
	cmd.Flags().IntVar(&events, "events", 10, "events to print from --at on")
	cmd.Flags().IntVar(&from, "from", 0, "first request (trace index) of the records printed")
	cmd.Flags().IntVar(&count, "count", 0, "records to print from --from on")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// inspection is what `kvscope inspect` prints, and its JSON.
type inspection struct {
	Scenario string `json:"scenario"`
	Trace    string `json:"trace"`
	Requests int    `json:"requests"`
	Events   int    `json:"events"`
	// StartS and EndS bound the run (first and last event, seconds).
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// FirstArrivalS and LastDoneS are the run's own bounds (Run.Start,
	// Run.End: 0 when nothing completed), from the records footer.
	FirstArrivalS float64 `json:"first_arrival_s"`
	LastDoneS     float64 `json:"last_done_s"`
	// Capacity is each worker's cache in Unit; LoadUnit the router's.
	Capacity    int64  `json:"capacity"`
	Unit        string `json:"unit"`
	LoadUnit    string `json:"load_unit"`
	Preemptions int64  `json:"preemptions"`
	// AtS is the instant shown (seconds, absolute).
	AtS     float64      `json:"at_s"`
	Workers []workerAt   `json:"workers"`
	Log     []eventJSON  `json:"events_from_at"`
	Records []recordJSON `json:"records,omitempty"`
}

// workerAt is one worker's state at the instant.
type workerAt struct {
	Worker        int      `json:"worker"`
	Queue         int32    `json:"queue"`
	Running       int32    `json:"running"`
	PinnedBlocks  int64    `json:"pinned"`
	CachedBlocks  int64    `json:"cached"`
	TokenHitRatio *float64 `json:"token_hit_ratio"`
	Completed     int32    `json:"completed"`
	BusyS         float64  `json:"busy_s"`
	Evicted       int64    `json:"evicted"`
	RouterLoad    *float32 `json:"router_load,omitempty"`
}

type eventJSON struct {
	TS     float64 `json:"t_s"`
	Kind   string  `json:"kind"`
	Req    int32   `json:"request"`
	Worker int16   `json:"worker"`
}

// recordJSON is one record as `kvscope inspect` prints it, with the
// request's own fields from the trace; latencies are null for a failed
// request, session, turn and line where the trace has none.
type recordJSON struct {
	Request   int32    `json:"request"`
	Worker    int16    `json:"worker"`
	Status    string   `json:"status"`
	ArrivalS  float64  `json:"arrival_s"`
	Input     int32    `json:"input_tokens"`
	Output    int32    `json:"output_tokens"`
	Blocks    int32    `json:"blocks"`
	Session   *int64   `json:"session"`
	Turn      *int32   `json:"turn"`
	Line      *int64   `json:"line"`
	TTFTMs    *float64 `json:"ttft_ms"`
	E2EMs     *float64 `json:"e2e_ms"`
	QueueMs   *float64 `json:"queue_ms"`
	HitBlocks int32    `json:"hit_blocks"`
	HitTokens int32    `json:"hit_tokens"`
	Reason    string   `json:"reason"`
	// RouterScores and CachedPrefix are every worker's router score and
	// true cached prefix (blocks) at the request's arrival, from a run
	// spilled with its detail file (run --spill-detail, the streamed
	// explorer's runs); absent otherwise.
	RouterScores []float32 `json:"router_scores,omitempty"`
	CachedPrefix []int32   `json:"cached_prefix_blocks,omitempty"`
}

// parseAt reads --at: end, a Go duration or seconds, after start.
func parseAt(s string, start, end time.Duration) (time.Duration, error) {
	if s == "end" {
		return end, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return start + d, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 4e9 {
		return start + time.Duration(f*1e9), nil
	}
	return 0, usagef("--at %q: want end, a duration (90s, 1h30m) or seconds", s)
}

func readSpilled(sp *sim.Spilled, atFlag string, nEvents, from, count int) (*inspection, error) {
	ft := sp.Footer()
	in := &inspection{Scenario: ft.Scenario, Trace: fmt.Sprintf("%s (%s)", ft.Trace.Source, ft.Trace.Format),
		Requests: sp.Records.Len(), Events: sp.Events.Len(), FirstArrivalS: ft.Start.Seconds(), LastDoneS: ft.End.Seconds(),
		Capacity: ft.Capacity, Unit: ft.Unit, LoadUnit: ft.LoadUnit, Preemptions: ft.Preemptions,
		Workers: []workerAt{}, Log: []eventJSON{}}
	start, end := sp.Events.Span()
	at, err := parseAt(atFlag, start, end)
	if err != nil {
		return nil, err
	}
	in.StartS, in.EndS, in.AtS = start.Seconds(), end.Seconds(), at.Seconds()
	st, err := sp.States.StateAt(at)
	if err != nil {
		return nil, err
	}
	for w, s := range st.Workers {
		wa := workerAt{Worker: w, Queue: s.Queue, Running: s.Running, PinnedBlocks: s.Pinned,
			CachedBlocks: s.Pinned + s.Marked + s.Unmarked, Completed: s.Completed, BusyS: s.Busy.Seconds(), Evicted: s.Evicted}
		if s.InputTokens > 0 {
			r := float64(s.HitTokens) / float64(s.InputTokens)
			wa.TokenHitRatio = &r
		}
		if w < len(st.RouterLoads) {
			l := st.RouterLoads[w]
			wa.RouterLoad = &l
		}
		in.Workers = append(in.Workers, wa)
	}
	i, err := sp.Events.Index(at)
	if err != nil {
		return nil, err
	}
	for ; i < sp.Events.Len() && len(in.Log) < nEvents; i++ {
		e, err := sp.Events.At(i)
		if err != nil {
			return nil, err
		}
		in.Log = append(in.Log, eventJSON{TS: e.T.Seconds(), Kind: e.Kind.String(), Req: e.Req, Worker: e.Worker})
	}
	var (
		r sim.Record
		q sim.RequestInfo
	)
	for i := from; i < sp.Records.Len() && i-from < count; i++ {
		if err := sp.Records.Read(i, &r); err != nil {
			return nil, err
		}
		if err := sp.Requests.Read(i, &q); err != nil {
			return nil, err
		}
		why := r.Fail
		if r.Status != sim.Failed {
			why = r.Why.Reason(int(r.Worker))
		}
		rj := recordJSON{Request: r.Index, Worker: r.Worker, Status: r.Status.String(), ArrivalS: r.Arrival.Seconds(),
			Input: q.Input, Output: q.Output, Blocks: q.Blocks,
			TTFTMs: latencyMs(r.TTFT(), &r), E2EMs: latencyMs(r.E2E(), &r), QueueMs: latencyMs(r.Queueing(), &r),
			HitBlocks: r.HitBlocks, HitTokens: r.HitTokens, Reason: why}
		rj.Session, rj.Turn, rj.Line = known(q.Session, q.Session >= 0), known(q.Turn, q.Turn > 0), known(q.Line, q.Line > 0)
		if d := sp.Detail; d != nil {
			w := sp.Footer().Workers
			rj.RouterScores, rj.CachedPrefix = make([]float32, w), make([]int32, w)
			if err := d.Read(i, rj.RouterScores, rj.CachedPrefix); err != nil {
				return nil, err
			}
		}
		in.Records = append(in.Records, rj)
	}
	return in, nil
}

// latencyMs is d in milliseconds, nil for a failed request (it has no
// latencies).
func latencyMs(d time.Duration, r *sim.Record) *float64 {
	if r.Status == sim.Failed {
		return nil
	}
	x := float64(d) / 1e6
	return &x
}

func (in *inspection) print(w io.Writer) {
	fmt.Fprintf(w, "scenario  %s\ntrace     %s\nrun       %d requests, %d events, %.3f s to %.3f s\n",
		in.Scenario, in.Trace, in.Requests, in.Events, in.StartS, in.EndS)
	fmt.Fprintf(w, "          first arrival %.3f s, last completion %.3f s, %d preemptions\n", in.FirstArrivalS, in.LastDoneS, in.Preemptions)
	fmt.Fprintf(w, "cache     %d %s a worker, router load in %s\n", in.Capacity, in.Unit, in.LoadUnit)
	fmt.Fprintf(w, "\nat %.3f s (%.3f s in)\n", in.AtS, in.AtS-in.StartS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker\tqueue\trunning\tpinned\tcached\ttoken hit\tcompleted\tbusy s\tevicted\trouter load\t")
	for _, x := range in.Workers {
		load := "–"
		if x.RouterLoad != nil {
			load = strconv.FormatFloat(float64(*x.RouterLoad), 'g', 6, 32)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\t%d\t%.3f\t%d\t%s\t\n", x.Worker, x.Queue, x.Running, x.PinnedBlocks, x.CachedBlocks,
			f3(orNaN(x.TokenHitRatio)), x.Completed, x.BusyS, x.Evicted, load)
	}
	tw.Flush()
	if len(in.Log) > 0 {
		fmt.Fprintf(w, "\nevents from %.3f s\n", in.AtS)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, e := range in.Log {
			fmt.Fprintf(tw, "%.6f\t%s\trequest %d\tworker %d\t\n", e.TS, e.Kind, e.Req, e.Worker)
		}
		tw.Flush()
	}
	if len(in.Records) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "request\tworker\tstatus\tarrival s\tinput\toutput\tblocks\tsession\tturn\tline\tTTFT ms\tE2E ms\tqueue ms\tcached blocks\t")
		for _, r := range in.Records {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.3f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t  %s\n", r.Request, r.Worker, r.Status, r.ArrivalS,
				r.Input, r.Output, r.Blocks, orDash(r.Session), orDash(r.Turn), orDash(r.Line),
				f1(orNaN(r.TTFTMs)), f1(orNaN(r.E2EMs)), f1(orNaN(r.QueueMs)), r.HitBlocks, strings.TrimSpace(r.Reason))
		}
		tw.Flush()
		if in.Records[0].RouterScores != nil {
			fmt.Fprintln(w, "\nrouter scores and true cached prefix (blocks) at arrival, per worker")
			for _, r := range in.Records {
				var b strings.Builder
				for k, s := range r.RouterScores {
					fmt.Fprintf(&b, "  w%d %s/%d", k, strconv.FormatFloat(float64(s), 'g', 6, 32), r.CachedPrefix[k])
				}
				fmt.Fprintf(w, "request %d:%s\n", r.Request, b.String())
			}
		}
	}
}

// known is a pointer to a copy of v if ok, else nil (JSON null: the trace
// does not say).
func known[T any](v T, ok bool) *T {
	if !ok {
		return nil
	}
	return &v
}

// orDash is *p, or "–" for nil.
func orDash[T int32 | int64](p *T) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatInt(int64(*p), 10)
}

// orNaN is *p, or NaN (printed "–" by f1 and f3) for nil.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
