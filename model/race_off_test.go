//go:build !race

package model

// raceEnabled tells tests that the race detector slows them about tenfold,
// so that they can use smaller data.
const raceEnabled = false
