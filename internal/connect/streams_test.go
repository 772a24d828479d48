package connect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/recoflow/recoflow/internal/testenv"
)

func TestParseStreamURL(t *testing.T) {
	opts := StreamOptions{Group: "g", MaxBatch: 7}
	for _, tc := range []struct {
		url   string
		check func(streamTarget) bool
	}{
		{"", func(t streamTarget) bool {
			return t.nats != nil && t.nats.EmbeddedDir == filepath.Join("recoflow-data", "nats") && t.nats.Consumer == "g"
		}},
		{"nats-embedded:///var/lib/rf/nats?stream=EV&subject=ev.in", func(t streamTarget) bool {
			return t.nats.EmbeddedDir == "/var/lib/rf/nats" && t.nats.Stream == "EV" && t.nats.Subject == "ev.in" && t.nats.Source.MaxBatch == 7
		}},
		{"nats://u:pw@a:4222,b:4222?consumer=workers&ack_wait=2m&max_ack_pending=100", func(t streamTarget) bool {
			return t.nats.URL == "nats://u:pw@a:4222,nats://u:pw@b:4222" && t.nats.Consumer == "workers" &&
				t.nats.AckWait == 2*time.Minute && t.nats.MaxAckPending == 100
		}},
		{"kafka://b1:9092,b2:9092/events?group=other", func(t streamTarget) bool {
			return t.kafka != nil && len(t.kafka.Brokers) == 2 && t.kafka.Topic == "events" && t.kafka.Group == "other"
		}},
		{"kinesis://shop-events?endpoint=http://127.0.0.1:5000&worker=1&workers=3&checkpoints=s3://b/ck&shards=2", func(t streamTarget) bool {
			return t.kinesis != nil && t.kinesis.Stream == "shop-events" && t.kinesis.Endpoint == "http://127.0.0.1:5000" &&
				t.kinesis.Worker == 1 && t.kinesis.Workers == 3 && t.checkpoints == "s3://b/ck" && t.kinesis.CreateShards == 2 && t.kinesis.Group == "g"
		}},
		{"kinesis://s", func(t streamTarget) bool { return t.checkpoints == DefaultKinesisCheckpoints }},
	} {
		got, err := parseStreamURL(tc.url, opts)
		if err != nil {
			t.Errorf("%q: %v", tc.url, err)
			continue
		}
		if !tc.check(got) {
			t.Errorf("%q parsed as nats %+v kafka %+v kinesis %+v", tc.url, got.nats, got.kafka, got.kinesis)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"localhost:4222", "want nats-embedded"},
		{"redis://x", "unknown scheme"},
		{"kafka://b:9092", "want kafka://"},
		{"kinesis://", "want kinesis://"},
		{"nats://h:4222?ack_wait=soon", "not a duration"},
		{"kinesis://s?workers=two", "not a whole number"},
		{"kafka://b:9092/t?stream=x", `parameter "stream" does not apply`},
		{"nats://user:secret@h:4222?bogus=1", "xxxxx"},
	} {
		_, err := parseStreamURL(tc.url, opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: %v, want an error containing %q (and no password)", tc.url, err, tc.want)
		}
	}
}

// roundTrip publishes through Producer and reads back through Stream.
func roundTrip(t *testing.T, url string, opts StreamOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := Producer(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"s1", "s2", "s3"} {
		if err := p.Publish(ctx, k, []byte(`{"session_id":"`+k+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := Stream(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	got := map[string]bool{}
	for len(got) < 3 {
		b, ack, err := src.ReadBatch(ctx)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for _, m := range b {
			got[m.Key] = true
		}
		if err := ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: ok", src)
}

func TestStreamEmbedded(t *testing.T) {
	roundTrip(t, "nats-embedded://"+t.TempDir(), StreamOptions{})
}

func TestStreamNATS(t *testing.T) {
	url := testenv.URL(t, testenv.NATSVar)
	name := "RFCONNECT" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	t.Cleanup(func() { // the test's own stream, deleted with the client library (tests only)
		nc, err := natsgo.Connect(url)
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if err := js.DeleteStream(context.Background(), name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	roundTrip(t, url+"?stream="+name+"&subject=recoflow.connect."+name, StreamOptions{})
}

// TestStreamKafka runs against franz-go's in-process kfake cluster (no
// Kafka broker can be installed here).
func TestStreamKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, "kafka://"+strings.Join(c.ListenAddrs(), ",")+"/events", StreamOptions{})
}

func TestStreamKinesis(t *testing.T) {
	endpoint := testenv.URL(t, testenv.KinesisVar)
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	}
	name := fmt.Sprintf("recoflow-connect-%d", time.Now().UnixNano())
	t.Cleanup(func() { // the test's own stream, deleted with the SDK (tests only)
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
		if err == nil {
			kc := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(endpoint) })
			_, err = kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
		}
		if err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	roundTrip(t, "kinesis://"+name+"?shards=2&endpoint="+endpoint+"&checkpoints="+t.TempDir(), StreamOptions{})
}
