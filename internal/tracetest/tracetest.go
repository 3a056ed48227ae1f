// Package tracetest holds trace fixtures that tests of several packages
// share. It is imported by tests only.
package tracetest

import (
	"regexp"
	"strconv"
)

var (
	hashIDs = regexp.MustCompile(`"hash_ids": \[[0-9, ]*\]`)
	number  = regexp.MustCompile(`[0-9]+`)
)

// ScrambleIDs maps every block id of Mooncake lines to 7919·id + 13. The
// Mooncake samples number their blocks in first-seen order, as the block
// table numbers its dense ids, so a router that hashes the trace's own ids
// (consistent_hash) routes the same on the dense ids by accident: a test
// that must tell the two apart reads the scrambled lines.
func ScrambleIDs(data []byte) []byte {
	return hashIDs.ReplaceAllFunc(data, func(list []byte) []byte {
		return number.ReplaceAllFunc(list, func(d []byte) []byte {
			v, _ := strconv.ParseUint(string(d), 10, 64) // digits only: fits unless absurd
			return strconv.AppendUint(nil, 7919*v+13, 10)
		})
	})
}
