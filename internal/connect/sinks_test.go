package connect

import (
	"context"
	"strings"
	"testing"
	"time"

	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/sink"
)

func TestSinkLake(t *testing.T) {
	for _, raw := range []string{"", "lake", "lake://", "lake://?gzip=true&stream=shop"} {
		t.Run(raw, func(t *testing.T) {
			b, err := lakefile.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			s, err := Sink(t.Context(), raw, b, SinkOptions{BufferInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			acked := false
			err = s.Write(t.Context(), sink.Batch{
				Records: []sink.Record{{ID: "1", Data: []byte(`{"session_id":"1"}`)}},
				Ack:     func(context.Context) error { acked = true; return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !acked {
				t.Fatal("not acknowledged after Close")
			}
			var keys []string
			b.List(t.Context(), "recommendations/", func(k string) error { keys = append(keys, k); return nil })
			if len(keys) != 1 {
				t.Fatalf("objects %v", keys)
			}
			wantGz := strings.Contains(raw, "gzip")
			if strings.HasSuffix(keys[0], ".gz") != wantGz || strings.Contains(keys[0], "/shop-") != strings.Contains(raw, "shop") {
				t.Fatalf("object %s for %q", keys[0], raw)
			}
		})
	}
}

func TestSinkFirehoseBuilds(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	s, err := Sink(t.Context(), "firehose://recs?endpoint=http://127.0.0.1:1&region=eu-west-1", b, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil { // nothing in flight: no call
		t.Fatal(err)
	}
}

func TestSinkErrors(t *testing.T) {
	b, _ := lakefile.Open(t.TempDir())
	tests := []struct{ url, want string }{
		{"kafka://x", "unknown scheme"},
		{"firehose://", "want firehose://delivery-stream-name"},
		{"firehose://a/b", "want firehose://delivery-stream-name"},
		{"lake://somewhere", "use lake:// alone"},
		{"lake://?gzip=maybe", "gzip"},
		{"lake://?stream=a/b", "stream name"},
		{"firehose://x?endpoint=127.0.0.1:5000", "endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Sink(t.Context(), tt.url, b, SinkOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sink(%q) = %v, want an error about %q", tt.url, err, tt.want)
			}
		})
	}
	if _, err := Sink(t.Context(), "", nil, SinkOptions{}); err == nil {
		t.Fatal("no lake accepted")
	}
}
