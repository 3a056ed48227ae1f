package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kvscope/kvscope/replay/sim"
	"github.com/spf13/cobra"
)

func newRecordsCmd() *cobra.Command {
	var (
		from, count int
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "records FILE",
		Short: "Read back the per-request records a run spilled (kvscope run --records)",
		Long: "records prints the run a records file belongs to and the records from --from on,\n" +
			"--count of them, reading only those rows: a file of 10 million requests opens at once.\n" +
			"Each record: worker, status, arrival, TTFT, E2E, queueing, cached blocks and the\n" +
			"router's reason (or the failure's).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from < 0 || count < 0 {
				return usagef("--from and --count: want 0 or more")
			}
			f, err := sim.OpenRecords(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			ft := f.Footer()
			w := cmd.OutOrStdout()
			if !asJSON {
				fmt.Fprintf(w, "scenario  %s\ntrace     %s (%s)\nrecords   %d\n\n", ft.Scenario, ft.Trace.Source, ft.Trace.Format, f.Len())
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			if !asJSON {
				fmt.Fprintln(tw, "request\tworker\tstatus\tarrival s\tTTFT ms\tE2E ms\tqueue ms\tcached blocks\t")
			}
			enc := json.NewEncoder(w)
			var r sim.Record
			for i := from; i < min(f.Len(), from+count); i++ {
				if err := f.Read(i, &r); err != nil {
					return err
				}
				why := r.Fail
				if r.Status != sim.Failed {
					why = r.Why.Reason(int(r.Worker))
				}
				if asJSON {
					if err := enc.Encode(recordJSON{Request: r.Index, Worker: r.Worker, Status: r.Status.String(),
						ArrivalS: r.Arrival.Seconds(), TTFTMs: msOf(r.TTFT(), r), E2EMs: msOf(r.E2E(), r), QueueMs: msOf(r.Queueing(), r),
						HitBlocks: r.HitBlocks, HitTokens: r.HitTokens, Reason: why}); err != nil {
						return err
					}
					continue
				}
				ms := func(f *float64) string {
					if f == nil {
						return "–"
					}
					return fmt.Sprintf("%.1f", *f)
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%.3f\t%s\t%s\t%s\t%d\t  %s\n", r.Index, r.Worker, r.Status, r.Arrival.Seconds(),
					ms(msOf(r.TTFT(), r)), ms(msOf(r.E2E(), r)), ms(msOf(r.Queueing(), r)), r.HitBlocks, strings.TrimSpace(why))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&from, "from", 0, "first request (trace index) to print")
	cmd.Flags().IntVar(&count, "count", 20, "how many records to print")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per record, without the header")
	return cmd
}

// recordJSON is one record as `kvscope records --json` prints it;
// latencies are null for a failed request.
type recordJSON struct {
	Request   int32    `json:"request"`
	Worker    int16    `json:"worker"`
	Status    string   `json:"status"`
	ArrivalS  float64  `json:"arrival_s"`
	TTFTMs    *float64 `json:"ttft_ms"`
	E2EMs     *float64 `json:"e2e_ms"`
	QueueMs   *float64 `json:"queue_ms"`
	HitBlocks int32    `json:"hit_blocks"`
	HitTokens int32    `json:"hit_tokens"`
	Reason    string   `json:"reason"`
}

// msOf is d in milliseconds, nil for a failed request (it has no
// latencies).
func msOf(d time.Duration, r sim.Record) *float64 {
	if r.Status == sim.Failed {
		return nil
	}
	x := float64(d) / 1e6
	return &x
}
