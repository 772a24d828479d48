package kinesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/recoflow/recoflow/internal/testenv"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/stream"
	"github.com/recoflow/recoflow/stream/streamtest"
)

// moto returns the Kinesis endpoint of RECOFLOW_TEST_KINESIS (moto
// accepts any credentials, so dummy ones are set when none are).
func moto(t *testing.T) string {
	endpoint := testenv.URL(t, testenv.KinesisVar)
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	return endpoint
}

// newStream creates a stream of its own with shards shards, deleted when
// the test ends.
func newStream(t *testing.T, endpoint string, shards int32) Config {
	b := make([]byte, 5)
	rand.Read(b)
	cfg := Config{Stream: "recoflow-test-" + hex.EncodeToString(b), Endpoint: endpoint, CreateShards: shards,
		PollInterval: 50 * time.Millisecond, ListInterval: time.Second}
	ctx := context.Background()
	p, err := NewProducer(ctx, cfg) // creates it
	if err != nil {
		t.Fatal(err)
	}
	p.Close(ctx)
	t.Cleanup(func() {
		kc, err := client(ctx, cfg)
		if err == nil {
			_, err = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(cfg.Stream)})
		}
		if err != nil {
			t.Errorf("cleanup: delete %s: %v", cfg.Stream, err)
		}
	})
	cfg.CreateShards = 0
	return cfg
}

func open[T any](t *testing.T, fn func(context.Context, Config) (T, error), cfg Config) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := fn(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAcceptance(t *testing.T) {
	endpoint := moto(t)
	streamtest.Run(t, func(t *testing.T) streamtest.Env {
		base := newStream(t, endpoint, 2)
		ckDir := t.TempDir() // shared by every member of every group of this case
		return streamtest.Env{
			Producer: func(t *testing.T) stream.Producer { return open(t, NewProducer, base) },
			Source: func(t *testing.T, group string, member, members int, o stream.SourceOptions) stream.Source {
				cfg := base
				ck, err := NewFileCheckpoints(ckDir)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Checkpoints, cfg.Group, cfg.Worker, cfg.Workers, cfg.Source = ck, group, member, members, o
				return open(t, NewSource, cfg)
			},
			Wait: 2 * time.Minute, // generous: CI is a loaded machine
		}
	})
}

func TestMissingStream(t *testing.T) {
	endpoint := moto(t)
	ck, _ := NewFileCheckpoints(t.TempDir())
	_, err := NewSource(context.Background(), Config{Stream: "recoflow-no-such-stream", Endpoint: endpoint, Checkpoints: ck})
	if !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("source on a missing stream: %v, want stream.ErrNotFound", err)
	}
	_, err = NewProducer(context.Background(), Config{Stream: "recoflow-no-such-stream", Endpoint: endpoint})
	if !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("producer on a missing stream: %v, want stream.ErrNotFound", err)
	}
}

func TestConfig(t *testing.T) {
	ck, _ := NewFileCheckpoints(t.TempDir())
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no stream"},
		{Config{Stream: "s"}, "checkpoint"},
		{Config{Stream: "s", Checkpoints: ck, Worker: 2, Workers: 2}, "worker 2 of 2"},
		{Config{Stream: "s", Checkpoints: ck, Endpoint: "127.0.0.1:5000"}, "not a URL"},
	} {
		if _, err := tc.cfg.withDefaults(true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
}

func TestCheckpointers(t *testing.T) {
	ctx := context.Background()
	bucket, err := lakefile.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fileCk, err := NewFileCheckpoints(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range []Checkpointer{fileCk, NewLakeCheckpoints(bucket, "checkpoints/")} {
		t.Run(fmt.Sprintf("%T", ck), func(t *testing.T) {
			if v, err := ck.Get(ctx, "s", "g", "shardId-000000000000"); v != "" || err != nil {
				t.Fatalf("Get of nothing = %q, %v", v, err)
			}
			for _, seq := range []string{"4959", "4960", ShardEnd} {
				if err := ck.Set(ctx, "s", "g", "shardId-000000000000", seq); err != nil {
					t.Fatal(err)
				}
				if v, err := ck.Get(ctx, "s", "g", "shardId-000000000000"); v != seq || err != nil {
					t.Fatalf("Get after Set %s = %q, %v", seq, v, err)
				}
			}
			if v, _ := ck.Get(ctx, "s", "other-group", "shardId-000000000000"); v != "" {
				t.Errorf("groups share checkpoints: %q", v)
			}
			if ck.String() == "" {
				t.Error("empty String()")
			}
		})
	}
	if err := fileCk.Set(ctx, "s", "..", "x", "1"); err == nil {
		t.Error("a group of \"..\" was accepted")
	}
}
