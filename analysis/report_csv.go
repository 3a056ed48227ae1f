package analysis

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// CSVHeader is the CSV report's header: one row per request per scenario
// per seed. Times are milliseconds since the trace's start (after
// re-timing); a time the request never reached is empty.
var CSVHeader = []string{
	"scenario", "seed", "request", "worker", "status",
	"arrival_ms", "start_ms", "first_token_ms", "done_ms",
	"hit_tokens", "hit_blocks", "input_tokens", "output_tokens", "blocks", "failure",
}

func msCell(d time.Duration) string {
	if d < 0 {
		return ""
	}
	return strconv.FormatFloat(float64(d)/1e6, 'f', -1, 64)
}

// WriteCSV writes one row per request per scenario per seed. It needs the
// records (CompareOptions.KeepRecords); failed scenarios have no rows.
func (r *Report) WriteCSV(out io.Writer) error {
	bw := bufio.NewWriterSize(out, 1<<16)
	w := csv.NewWriter(bw)
	if err := w.Write(CSVHeader); err != nil {
		return err
	}
	row := make([]string, len(CSVHeader))
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !s.OK() {
			continue
		}
		write := func(seed string, q *RequestRow) error {
			worker := ""
			if q.Worker >= 0 {
				worker = strconv.Itoa(int(q.Worker))
			}
			row = append(row[:0], s.Label, seed, strconv.Itoa(int(q.Index)), worker, q.Status.String(),
				msCell(q.Arrival), msCell(q.Start), msCell(q.FirstToken), msCell(q.Done),
				strconv.Itoa(int(q.HitTokens)), strconv.Itoa(int(q.HitBlocks)),
				strconv.Itoa(int(q.Input)), strconv.Itoa(int(q.Output)), strconv.Itoa(int(q.Blocks)), q.Fail)
			return w.Write(row)
		}
		switch {
		case s.Records != nil:
			for k, recs := range s.Records {
				seed := strconv.FormatUint(s.Seeds[k], 10)
				for j := range recs {
					if err := write(seed, &recs[j]); err != nil {
						return err
					}
				}
			}
		case s.SpilledRecords != nil:
			for k, rows := range s.SpilledRecords {
				seed := strconv.FormatUint(s.Seeds[k], 10)
				if err := rows.each(func(q *RequestRow) error { return write(seed, q) }); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("scenario %s: no request records kept (compare with KeepRecords for CSV)", s.Label)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}
