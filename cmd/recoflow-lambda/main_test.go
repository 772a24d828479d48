package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	awslambda "github.com/aws/aws-lambda-go/lambda"
)

func TestHandlerPassesThrough(t *testing.T) {
	env := map[string]string{"RECOFLOW_CONCURRENCY": "2"}
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
	env := map[string]string{"RECOFLOW_CONCURRENCY": "zero"}
	if _, err := handler(t.Context(), func(k string) string { return env[k] }, slog.Default()); err == nil {
		t.Fatal("bad RECOFLOW_CONCURRENCY accepted")
	}
}
