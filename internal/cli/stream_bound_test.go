package cli

import (
	"testing"

	"github.com/recoflow/recoflow/pipeline"
)

// TestInFlightBoundCoversTheSinkBuffer: a sink buffer larger than the
// pipeline's default in-flight bound raises the bound, so the stream never
// stops reading while a full buffer waits for its interval.
func TestInFlightBoundCoversTheSinkBuffer(t *testing.T) {
	for _, tc := range []struct{ buffer, want int64 }{
		{5 << 20, pipeline.DefaultMaxInFlightBytes},
		{1 << 10, pipeline.DefaultMaxInFlightBytes},
		{64 << 20, 192 << 20},
	} {
		got := inFlightBound(tc.buffer)
		if got != tc.want || got < 2*tc.buffer {
			t.Errorf("buffer %d: bound %d, want %d (at least twice the buffer)", tc.buffer, got, tc.want)
		}
	}
}
