// Package tracetest holds the trace set-up the tests of other packages
// share: an embedded sample trace loaded (trace.LoadSample), and a
// generator's requests written in a format kvscope writes (native,
// mooncake) and read back, each failing the test on an error, so that
// each test does not repeat the steps and their error checks. It is
// imported by tests only.
//
// It imports replay/trace, nothing of the simulator and not
// replay/trace/gen (whose own tests use it).
package tracetest
