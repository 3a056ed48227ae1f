package infperf

import (
	"slices"
	"strings"

	"github.com/kvscope/kvscope/internal/yamlpos"
)

func (c *Config) parseLoad(n yamlpos.Node) error {
	f, err := n.Fields("type", "interval", "stages", "sweep", "num_workers", "worker_max_concurrency",
		"worker_max_tcp_connections", "trace", "circuit_breakers", "request_timeout", "lora_traffic_split", "base_seed")
	if err != nil {
		return err
	}
	l := &c.Load
	l.Type, l.Interval, l.NumWorkers = LoadConstant, 1.0, -1
	if tn := f["type"]; !tn.IsNull() {
		s, err := tn.String()
		if err != nil {
			return err
		}
		if !slices.Contains(loadTypesKnown, s) {
			return tn.Errorf("unknown load type %q (inference-perf knows %s)", s, strings.Join(loadTypesKnown, ", "))
		}
		if s != string(LoadConstant) && s != string(LoadPoisson) {
			return tn.Errorf("%q is not modelled (kvscope models constant and poisson)", s)
		}
		l.Type = LoadType(s)
	}
	if err := opt(f["interval"], yamlpos.Node.Float, &l.Interval); err != nil {
		return err
	}
	if err := opt(f["num_workers"], yamlpos.Node.Int, &l.NumWorkers); err != nil {
		return err
	}
	if l.NumWorkers < -1 {
		return f["num_workers"].Errorf("must not be negative (got %d)", l.NumWorkers)
	}
	if sn := f["base_seed"]; !sn.IsNull() {
		v, err := sn.Int()
		if err != nil {
			return err
		}
		l.BaseSeed = &v
	}
	if sw := f["sweep"]; !sw.IsNull() {
		return sw.Errorf("a sweep picks its stages from a saturation probe at run time; they are not in the configuration, so kvscope cannot generate them")
	}
	if lo := f["lora_traffic_split"]; !lo.IsNull() {
		return lo.Errorf("LoRA adapters are not modelled (their requests never share cached blocks across adapters)")
	}
	stages, err := f["stages"].Seq()
	if err != nil {
		return err
	}
	if len(stages) == 0 {
		return f["stages"].Errorf("no stages: inference-perf would send nothing")
	}
	var total int64
	for _, sn := range stages {
		s, err := parseStage(sn)
		if err != nil {
			return err
		}
		total += s.Requests()
		if total > MaxRequests {
			return sn.Errorf("the stages schedule more than %d requests", int64(MaxRequests))
		}
		l.Stages = append(l.Stages, s)
	}
	return c.checkRandomCounts(f["stages"])
}

func parseStage(n yamlpos.Node) (Stage, error) {
	f, err := n.Map("rate", "duration", "num_requests", "concurrency_level")
	if err != nil {
		return Stage{}, err
	}
	s := Stage{Line: n.Line()}
	rn, dn := f["rate"], f["duration"]
	if rn.IsNull() {
		return s, rn.Errorf("required")
	}
	if s.Rate, err = rn.Float(); err != nil {
		return s, err
	}
	if !(s.Rate > 0) {
		return s, rn.Errorf("must be positive (got %g)", s.Rate)
	}
	if dn.IsNull() {
		return s, dn.Errorf("required")
	}
	if s.Duration, err = dn.Int(); err != nil {
		return s, err
	}
	if s.Duration <= 0 || s.Duration > MaxDuration {
		return s, dn.Errorf("must be in [1, %d] seconds (got %d)", MaxDuration, s.Duration)
	}
	if s.Rate*float64(s.Duration) > MaxRequests {
		return s, rn.Errorf("rate × duration = %g requests, more than %d", s.Rate*float64(s.Duration), int64(MaxRequests))
	}
	for _, k := range []string{"num_requests", "concurrency_level"} {
		if !f[k].IsNull() {
			return s, f[k].Errorf("must not be set for constant and poisson load types")
		}
	}
	return s, nil
}

// checkRandomCounts: random and synthetic index their length lists by the
// request's number within its stage, so every stage must fit in
// total_count (inference-perf would fail the requests past it).
func (c *Config) checkRandomCounts(stages yamlpos.Node) error {
	if c.Data.Input == nil {
		return nil
	}
	have := min(c.Data.Input.TotalCount, c.Data.Output.TotalCount)
	for i, s := range c.Load.Stages {
		if !c.Load.MultiProcess() && c.Load.Type == LoadPoisson {
			continue // counted while generating
		}
		if s.Requests() > have {
			return stages.Errorf("stage %d (line %d) schedules %d requests, but the length distributions hold total_count = %d (each stage reads them from the start)",
				i, s.Line, s.Requests(), have)
		}
	}
	return nil
}
