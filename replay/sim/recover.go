package sim

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kvscope/kvscope/replay/route"
	"github.com/kvscope/kvscope/replay/trace"
)

// DebugEnv names the environment variable holding the simulator's debug
// switches, a comma-separated list in the manner of GODEBUG:
//
//	stack        an InternalError's message ends with the panic's stack
//	panic_at=N   the router panics when it routes request N (0-based trace
//	             index), to exercise the recovery path end to end
//
// Unknown switches are ignored. Nothing else reads the environment.
const DebugEnv = "KVSCOPE_DEBUG"

// debugSwitches is DebugEnv parsed.
type debugSwitches struct {
	stack   bool
	panicAt int // -1: off
}

func readDebug() debugSwitches {
	d := debugSwitches{panicAt: -1}
	for _, f := range strings.Split(os.Getenv(DebugEnv), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "stack":
			d.stack = v == "" || v == "1"
		case "panic_at":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				d.panicAt = n
			}
		}
	}
	return d
}

// InternalError is a panic inside a replay turned into an error: a bug in
// kvscope, not bad input (bad input is refused with an error naming the
// file, line and field before any work). Simulate returns it so that one
// broken scenario fails alone: `kvscope run` exits 1, `kvscope compare`
// names it in the report, the explorer shows it as the scenario's failure.
type InternalError struct {
	// Scenario is the canonical scenario (as given, if it did not resolve).
	Scenario string
	// Request is the trace index of the request being handled, -1 if none
	// (a router's scrape, an engine iteration's bookkeeping, set-up).
	Request int
	// Source is that request's place in the trace ("FILE:LINE").
	Source string
	// At is the simulated time of the event being handled.
	At time.Duration
	// Value is what was passed to panic; Stack the goroutine's stack then.
	Value any
	Stack []byte
	// withStack appends Stack to Error() (KVSCOPE_DEBUG=stack).
	withStack bool
}

func (e *InternalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %q: ", e.Scenario)
	e.brief(&b)
	if e.withStack {
		b.WriteString("\n")
		b.Write(e.Stack)
	} else {
		fmt.Fprintf(&b, " (set %s=stack for the stack trace)", DebugEnv)
	}
	return b.String()
}

// Brief is the message without the scenario and the stack, for a display
// that already names the scenario: "request 17 (FILE:LINE) at 1.2 s:
// internal error: <panic value>".
func (e *InternalError) Brief() string {
	var b strings.Builder
	e.brief(&b)
	return b.String()
}

func (e *InternalError) brief(b *strings.Builder) {
	if e.Request >= 0 {
		fmt.Fprintf(b, "request %d", e.Request)
		if e.Source != "" {
			fmt.Fprintf(b, " (%s)", e.Source)
		}
		fmt.Fprintf(b, " at %s: ", secs(e.At.Seconds()))
	}
	fmt.Fprintf(b, "internal error: %v", e.Value)
}

// guard follows a replay so that a panic can be reported with what it was
// doing.
type guard struct {
	scenario string
	debug    debugSwitches
	c        *cluster
}

func newGuard(scenario string) *guard {
	return &guard{scenario: scenario, debug: readDebug()}
}

func (g *guard) internalError(p any) *InternalError {
	e := &InternalError{Scenario: g.scenario, Request: -1, Value: p, Stack: debug.Stack(), withStack: g.debug.stack}
	if c := g.c; c != nil && c.cur >= 0 && c.holds(c.cur) {
		e.Request = int(c.cur)
		e.Source = c.req(c.cur).Source
		e.At = c.now
	}
	return e
}

// Recovered is the InternalError for a panic recovered around work on a
// replay's result (metrics, charts) rather than in the replay itself, where
// Simulate recovers its own: no request, the same message and switches.
func Recovered(scenario string, p any) *InternalError {
	return newGuard(scenario).internalError(p)
}

// panicRouter is the router under KVSCOPE_DEBUG=panic_at=N.
type panicRouter struct {
	route.Router
	at int
}

func (p panicRouter) Route(now time.Duration, r *trace.Request) route.Decision {
	if r.Index == p.at {
		panic(fmt.Sprintf("%s=panic_at=%d: injected panic in the router", DebugEnv, p.at))
	}
	return p.Router.Route(now, r)
}

// Live names the wrapped router's block ids when it holds some
// (route.Holder): embedding the Router interface does not promote it, and
// a streamed run's sweeps would recycle ids still in its history.
func (p panicRouter) Live(keep func(trace.BlockID)) {
	if h, ok := p.Router.(route.Holder); ok {
		h.Live(keep)
	}
}
