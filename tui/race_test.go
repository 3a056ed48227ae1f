//go:build race

package tui

// raceEnabled: timing targets do not apply under the race detector.
const raceEnabled = true
