package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// ValidateSet is several experiments validated together: each one's
// report and, over the measured experiments with fewer than
// MaxFailedShare of their requests failed (as the source's accuracy
// figures exclude overloaded runs), the median absolute error of the
// summary means: the held-out check in one command.
type ValidateSet struct {
	Experiments []*ValidateReport `json:"experiments"`
	// Included names the experiments the medians are over.
	Included []string `json:"included"`
	Median   struct {
		E2E  *float64 `json:"e2e_ms_mean"`
		TTFT *float64 `json:"ttft_ms_mean"`
		ITL  *float64 `json:"itl_ms_mean"`
	} `json:"median_abs_error_pct"`
}

// MaxFailedShare is the measured failed share above which an experiment
// is left out of ValidateSet's medians.
const MaxFailedShare = 0.10

// ValidateAll validates each folder with the same options.
func ValidateAll(ctx context.Context, dirs []string, o ValidateOptions) (*ValidateSet, error) {
	set := &ValidateSet{}
	var e2e, ttft, itl []float64
	for _, dir := range dirs {
		rep, err := Validate(ctx, dir, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		set.Experiments = append(set.Experiments, rep)
		s := rep.Summary
		if s.Measured == nil || s.Measured.Failed == nil || s.Measured.Completed == nil {
			continue
		}
		if total := *s.Measured.Failed + *s.Measured.Completed; total == 0 || *s.Measured.Failed/total >= MaxFailedShare {
			continue
		}
		set.Included = append(set.Included, filepath.Base(dir))
		for _, x := range []struct {
			dst *[]float64
			v   *float64
		}{{&e2e, s.ErrorPct.E2E.Mean}, {&ttft, s.ErrorPct.TTFT.Mean}, {&itl, s.ErrorPct.ITL.Mean}} {
			if x.v != nil {
				*x.dst = append(*x.dst, math.Abs(*x.v))
			}
		}
	}
	set.Median.E2E, set.Median.TTFT, set.Median.ITL = median(e2e), median(ttft), median(itl)
	return set, nil
}

// median is the middle value (the mean of the two middle ones for an
// even count); nil for none.
func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return ptr(s[n/2])
	}
	return ptr((s[n/2-1] + s[n/2]) / 2)
}

// WriteText writes one line per experiment and the medians.
func (v *ValidateSet) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-48s %9s %9s %9s %9s %9s\n", "experiment (summary means)", "pred fail", "meas fail", "E2E err", "TTFT err", "ITL err")
	for _, r := range v.Experiments {
		s := r.Summary
		share := func(f *Figures) string {
			if f == nil || f.Failed == nil || f.Completed == nil || *f.Failed+*f.Completed == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f%%", 100**f.Failed/(*f.Failed+*f.Completed))
		}
		e := s.ErrorPct
		if e == nil {
			e = &Figures{}
		}
		fmt.Fprintf(&b, "%-48s %9s %9s %9s %9s %9s\n", filepath.Base(r.Dir), share(&s.Predicted), share(s.Measured),
			fmtPct(e.E2E.Mean), fmtPct(e.TTFT.Mean), fmtPct(e.ITL.Mean))
	}
	fmt.Fprintf(&b, "\nmedian |error| over %d measured experiments with < %g%% failed: E2E %s, TTFT %s, ITL %s\n",
		len(v.Included), 100*MaxFailedShare, fmtAbs(v.Median.E2E), fmtAbs(v.Median.TTFT), fmtAbs(v.Median.ITL))
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtAbs(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", *p)
}

// WriteJSON writes the set as JSON.
func (v *ValidateSet) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
