//go:build race

package evict_test

// raceEnabled trims the Mooncake tests under -race (the plain run covers
// every capacity; the race detector only multiplies their time).
const raceEnabled = true
