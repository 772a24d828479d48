package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset/datasettest"
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

// TestStreamDatasetMapping: stream --dataset checks the spec's stream
// section before it opens anything: a browsed-items field that is also the
// user id is a usage error naming the key.
func TestStreamDatasetMapping(t *testing.T) {
	dir := t.TempDir()
	bad := strings.Replace(datasettest.ShopSpecYAML, "browsed_items: viewed", "browsed_items: user", 1)
	file := writeFile(t, dir, "shop.yaml", bad)
	var stderr bytes.Buffer
	err := Run(context.Background(), []string{"stream", "--dataset", file, "--lake", "file://" + filepath.Join(dir, "lake"), "--stream", "nats://127.0.0.1:1"},
		Options{Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) (string, bool) { return "", false }})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), "stream.browsed_items") {
		t.Fatalf("stream --dataset with a bad stream section: %v (stderr %s)", err, stderr.String())
	}
}
