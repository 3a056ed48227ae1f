package live

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic inside a live run (the driver, a router it calls,
// its model of a worker's cache) turned into the run's error: the run stops
// and Run returns it instead of the process crashing. Error() is one line
// (for a status bar); Stack holds the panicking goroutine's stack.
type PanicError struct {
	// Router and ModelEvict name the run's scenario.
	Router, ModelEvict string
	// Request is the trace index of the request being handled, -1 when the
	// panic was outside any request; Where says what the driver was doing.
	Request int
	Where   string
	Value   any
	Stack   []byte
}

func (e *PanicError) Error() string {
	at := e.Where
	if e.Request >= 0 {
		at = fmt.Sprintf("%s request %d", e.Where, e.Request)
	}
	return fmt.Sprintf("live run (router %s, model eviction %s): internal error (panic) %s: %v", e.Router, e.ModelEvict, at, e.Value)
}

// recovered turns p, a recover() result, into the run's error (the first
// one is kept) and stops the run. Deferred as
// defer func() { d.recovered(recover(), where, index) }().
func (d *driver) recovered(p any, where string, index int) {
	if p == nil {
		return
	}
	router := d.canon
	if router == "" {
		router = d.cfg.Router
	}
	pe := &PanicError{Router: router, ModelEvict: d.cfg.ModelEvict, Request: index, Where: where, Value: p, Stack: debug.Stack()}
	d.panicOnce.Do(func() { d.panicked = pe })
	if d.stopRun != nil {
		d.stopRun(pe)
	}
}
