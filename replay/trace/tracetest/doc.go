// Package tracetest loads the embedded sample traces (trace.LoadSample) for
// the tests of other packages, failing the test on an error, so that each
// does not repeat the load and its error check. It is imported by tests
// only.
//
// It imports replay/trace, nothing of the simulator.
package tracetest
