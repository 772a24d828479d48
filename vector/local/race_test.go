//go:build race

package local

// raceEnabled shrinks the slowest tests under the race detector, which
// makes the graph build some twenty times slower.
const raceEnabled = true
