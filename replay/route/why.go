package route

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Rule is one way a router decides, registered by the router's own file
// (Info.Rules): its name, the units of a decision's Scores, and how its
// numbers read. A Why points at its Rule, so the set of rules is open:
// a new router brings its own without touching this file.
type Rule struct {
	// Name is the rule's snake_case name.
	Name string
	// Unit names the units of the Scores of a decision made by this rule.
	Unit string
	// Prefer says which end of those Scores the rule favours: a caller
	// that cannot use the chosen worker (the live driver, with that worker
	// down or failing this request) goes down this order (Decision.Ranked).
	Prefer Prefer
	// Format explains a decision made by this rule that chose worker; the
	// rule's doc comment says what Why's numbers hold.
	Format func(y Why, worker int) string
}

// Prefer is the direction of a rule's Scores.
type Prefer int8

const (
	// PreferLow: the lower the score the better (load, cost, latency).
	PreferLow Prefer = iota + 1
	// PreferHigh: the higher the better (matched tokens, a score).
	PreferHigh
)

// String is the rule's name.
func (r *Rule) String() string {
	if r == nil {
		return "no rule"
	}
	return r.Name
}

// MarshalJSON writes the rule as its name, so a run's records encode (a
// nil rule, a request never routed, encodes as null).
func (r *Rule) MarshalJSON() ([]byte, error) { return json.Marshal(r.Name) }

// Why is the compact, allocation-free explanation of a decision: the rule
// that decided and its numbers, whose meaning the rule documents.
type Why struct {
	Rule             *Rule
	Alt              int
	A, B, C, D, E, F float64
	// Key is an exact 64-bit figure a float64 cannot hold
	// (consistent_hash's key; lbgr: two cached-token counts).
	Key uint64
}

// Reason formats the explanation of a decision that chose worker (what a
// run keeps per request is the Why and the worker; this is
// Decision.Reason).
func (y Why) Reason(worker int) string {
	if y.Rule == nil || y.Rule.Format == nil {
		return fmt.Sprintf("%s → worker %d", y.Rule, worker)
	}
	return y.Rule.Format(y, worker)
}

// Unit names the units of the decision's Scores.
func (y Why) Unit() string {
	if y.Rule == nil {
		return ""
	}
	return y.Rule.Unit
}

func g(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
