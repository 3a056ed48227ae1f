//go:build !race

package evict_test

const raceEnabled = false
