package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/recoflow/recoflow/internal/cli"
)

func TestHandlerPassesThrough(t *testing.T) {
	env := map[string]string{"RECOFLOW_CONCURRENCY": "2", "RECOFLOW_PASSTHROUGH": "1"}
	h, err := handler(t.Context(), func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("../../lambda/testdata/firehose-kinesis-source-event.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := awslambda.NewHandler(h).Invoke(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Records []struct {
			RecordID string `json:"recordId"`
			Result   string `json:"result"`
			Data     []byte `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	want := []string{"Ok", "Ok", "ProcessingFailed", "Ok"}
	if len(resp.Records) != len(want) {
		t.Fatalf("%d results", len(resp.Records))
	}
	for i, w := range want {
		if resp.Records[i].Result != w {
			t.Errorf("record %d: %s, want %s", i, resp.Records[i].Result, w)
		}
	}
	if d := resp.Records[0].Data; len(d) == 0 || d[len(d)-1] != '\n' {
		t.Errorf("data not newline-terminated: %q", d)
	}
}

func TestBadEnvironment(t *testing.T) {
	env := map[string]string{"RECOFLOW_CONCURRENCY": "zero", "RECOFLOW_PASSTHROUGH": "1"}
	if _, err := handler(t.Context(), func(k string) string { return env[k] }, slog.Default()); err == nil {
		t.Fatal("bad RECOFLOW_CONCURRENCY accepted")
	}
}

// TestHandlerRecommends runs the real engine, on a model and vector store
// made by `recoflow demo`, over the recorded Firehose event.
func TestHandlerRecommends(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	if err := cli.Run(t.Context(), []string{"demo", "--batch-only", "--dir", dir, "--log-level", "warn"}, cli.Options{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	env := map[string]string{
		"RECOFLOW_LAKE":    "file://" + filepath.Join(dir, "lake"),
		"RECOFLOW_VECTORS": "file://" + filepath.Join(dir, "vectors"),
	}
	h, err := handler(t.Context(), func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("../../lambda/testdata/firehose-kinesis-source-event.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := awslambda.NewHandler(h).Invoke(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.KinesisFirehoseResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	var ok int
	for _, r := range resp.Records {
		if r.Result != events.KinesisFirehoseTransformedStateOk {
			continue
		}
		ok++
		var rec map[string]any
		if err := json.Unmarshal(r.Data, &rec); err != nil {
			t.Fatalf("record %s: output is not JSON: %v", r.RecordID, err)
		}
		if items, _ := rec["recommended_items"].([]any); len(items) != 10 {
			t.Errorf("record %s: %d recommended_items, want 10", r.RecordID, len(items))
		}
		if _, has := rec["similar_items"]; !has {
			t.Errorf("record %s: no similar_items", r.RecordID)
		}
		if _, has := rec["session_id"]; !has {
			t.Errorf("record %s: the input fields are not kept", r.RecordID)
		}
	}
	if ok == 0 {
		t.Fatalf("no record transformed: %s", raw)
	}
}

func TestHandlerNeedsLakeAndVectors(t *testing.T) {
	_, err := handler(t.Context(), func(string) string { return "" }, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "RECOFLOW_LAKE and RECOFLOW_VECTORS") {
		t.Fatalf("error %v, want one naming RECOFLOW_LAKE and RECOFLOW_VECTORS", err)
	}
}
