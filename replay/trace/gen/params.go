package gen

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kvscope/kvscope/replay/trace"
)

// Emit receives each generated request, in arrival order. The generator
// reuses r and r.Blocks after Emit returns: a callee that keeps a request
// must copy it. An error from Emit stops the generator and is returned.
type Emit = func(r *trace.Request) error

// Generator is one configured workload generator.
type Generator interface {
	// Name is the generator's name: "gsp", "multiturn", "longdoc", "cycle".
	Name() string
	// Validate checks the parameters; a failure is a *ParamError.
	Validate() error
	// TraceBlockSize is the trace's block size in tokens.
	TraceBlockSize() int
	// Canonical spells every parameter as the CLI flags that reproduce the
	// trace: "gsp --groups 128 … --seed 1".
	Canonical() string
	// Generate validates the parameters and streams the requests to emit
	// in arrival order.
	Generate(emit Emit) error
}

// Wide is a generator whose traces may hold more than MaxBlocks blocks
// (multiturn: every conversation's blocks are its own, so dense ids are
// reused once no conversation holds them). Writers must write the ids
// IDNames gives, not the dense ids.
type Wide interface {
	Generator
	IDNames() trace.IDNames
}

// Names lists the generators, sorted.
func Names() []string { return []string{"cycle", "gsp", "longdoc", "multiturn"} }

// Default returns the generator of that name with SPEC §3's defaults, or an
// error naming the choices.
func Default(name string) (Generator, error) {
	switch name {
	case "gsp":
		p := DefaultGSP()
		return &p, nil
	case "multiturn":
		p := DefaultMultiturn()
		return &p, nil
	case "longdoc":
		p := DefaultLongdoc()
		return &p, nil
	case "cycle":
		p := DefaultCycle()
		return &p, nil
	}
	return nil, fmt.Errorf("unknown generator %q (choose %s)", name, strings.Join(Names(), ", "))
}

// ParamError is an invalid parameter, named by its CLI flag.
type ParamError struct {
	Flag   string // without dashes: "groups"
	Reason string
}

func (e *ParamError) Error() string { return "--" + e.Flag + ": " + e.Reason }

func paramErr(flag, format string, args ...any) error {
	return &ParamError{Flag: flag, Reason: fmt.Sprintf(format, args...)}
}

// Limits keep every derived count and token position far from integer
// overflow; block ids run out (MaxBlocks) long before they matter.
const (
	// MaxRequests bounds the number of requests of one trace.
	MaxRequests = 1 << 40
	// MaxTokens bounds the input length of one request.
	MaxTokens = 1 << 40
	// MaxBlockSize bounds --block-size (the native format's limit).
	MaxBlockSize = 1 << 24
	// maxCount bounds a count flag (groups, clients, ...).
	maxCount = 1 << 31
)

func checkCount(flag string, v, lo int) error {
	if v < lo {
		return paramErr(flag, "must be at least %d (got %d)", lo, v)
	}
	if v > maxCount {
		return paramErr(flag, "must be at most %d (got %d)", maxCount, v)
	}
	return nil
}

func checkLens(flag string, lens []int, lo int) error {
	if len(lens) == 0 {
		return paramErr(flag, "needs at least one length")
	}
	for i, v := range lens {
		if v < lo {
			return paramErr(flag, "length %d (item %d) must be at least %d", v, i+1, lo)
		}
		if v > MaxTokens {
			return paramErr(flag, "length %d (item %d) must be at most %d", v, i+1, int64(MaxTokens))
		}
	}
	return nil
}

func checkRate(rate float64) error {
	if math.IsNaN(rate) || rate <= 0 {
		return paramErr("rate", "must be a positive number of requests per second, or inf (got %s)", fmtFloat(rate))
	}
	return nil
}

func checkOutput(v int) error {
	if v < 0 {
		return paramErr("output-len", "must not be negative (got %d)", v)
	}
	if v > MaxTokens {
		return paramErr("output-len", "must be at most %d (got %d)", int64(MaxTokens), v)
	}
	return nil
}

func checkBlockSize(v int) error {
	if v < 1 {
		return paramErr("block-size", "must be at least 1 (got %d)", v)
	}
	if v > MaxBlockSize {
		return paramErr("block-size", "must be at most %d (got %d)", MaxBlockSize, v)
	}
	return nil
}

// ParseInts parses a comma-separated list of integers ("512,1024"), naming
// the flag in its error.
func ParseInts(flag, s string) ([]int, error) {
	parts := strings.Split(s, ",")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, paramErr(flag, "%q is not an integer", p)
		}
		out = append(out, v)
	}
	return out, nil
}

func fmtInts(v []int) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// canon builds a canonical flag string from name/value pairs.
type canon struct{ b strings.Builder }

func (c *canon) add(flag, value string) {
	c.b.WriteString(" --")
	c.b.WriteString(flag)
	c.b.WriteByte(' ')
	c.b.WriteString(value)
}

func (c *canon) int(flag string, v int)       { c.add(flag, strconv.Itoa(v)) }
func (c *canon) float(flag string, v float64) { c.add(flag, fmtFloat(v)) }
func (c *canon) ints(flag string, v []int)    { c.add(flag, fmtInts(v)) }
func (c *canon) uint64(flag string, v uint64) { c.add(flag, strconv.FormatUint(v, 10)) }
func (c *canon) String() string               { return c.b.String() }
