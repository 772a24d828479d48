package cli_test

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/recoflow/recoflow/internal/cli"
)

func TestBenchStreamTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo's batch stages and an embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // the setup trains: slow under -race on a loaded machine
	defer cancel()
	var out, errb bytes.Buffer
	err := cli.Run(ctx, []string{"bench", "stream", "--dir", t.TempDir(), "--events", "300",
		"--duration", "1s", "--rates", "200,500", "--buffer-interval", "200ms", "--log-level", "warn"},
		cli.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	report := out.String()
	t.Log("\n" + report)

	positive := func(re string) []string {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(report)
		if m == nil {
			t.Fatalf("no line matching %q in:\n%s", re, report)
		}
		for _, s := range m[1:] {
			if v, err := strconv.ParseFloat(s, 64); err != nil || v <= 0 {
				t.Errorf("%q: %q is not a positive figure", m[0], s)
			}
		}
		return m
	}
	positive(`(?m)^bench stream: embedded JetStream; .* a backlog of 300 events of (\d+) B on average`)
	positive(`(?m)^  backlog    published with recoflow's producer +(\d+) events/s  \(not a reference\)`)
	positive(`(?m)^  reference  plain durable pull consumer, ack each message +(\d+) events/s  \(before the pipeline (\d+), after (\d+)\)`)
	positive(`(?m)^  pipeline   same backlog, to recommendations computed +(\d+) events/s  ratio (\d+\.\d+)  \(target ≥ 0\.5\)`)
	positive(`(?m)^  pipeline   same backlog, to durable in the lake and acked +(\d+) events/s  ratio (\d+\.\d+)`)
	for _, rate := range []string{"200", "500"} {
		m := positive(`(?m)^  latency    broker → computed    at +` + rate + `/s \(achieved +(\d+)/s, (\d+) events\)  p50 +(\d+\.\d+) ms  p99 +(\d+\.\d+) ms`)
		want, _ := strconv.Atoi(rate) // one second at the rate
		if n, _ := strconv.Atoi(m[2]); n < want*8/10 || n > want*12/10 {
			t.Errorf("%d events published at %s/s for 1s", n, rate)
		}
		d := positive(`(?m)^  delivery   broker → lake \+ ack  at +` + rate + `/s \(interval 200ms\)  p50 +(\d+\.\d+) ms  p99 +(\d+\.\d+) ms  \(target p99 ≤ 1\.2s\)`)
		// Delivery waits for a flush: never quicker than the compute
		// latency, and bounded by the interval plus generous slack.
		if p99, _ := strconv.ParseFloat(d[2], 64); p99 > 5000 {
			t.Errorf("delivery p99 %.0f ms at %s/s with a 200ms interval", p99, rate)
		}
	}
	positive(`(?m)^  memory     peak Go heap (\d+\.\d) MiB \(sampled every 100 ms\), peak RSS (\d+\.\d) MiB`)
}

// TestBenchStreamKfake runs the benchmark on Kafka (franz-go's in-process
// kfake cluster): the reference is a plain consumer group, the pipeline
// reads through recoflow's Kafka source, and every event is acknowledged.
func TestBenchStreamKfake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo's batch stages and a kfake cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // the setup trains: slow under -race on a loaded machine
	defer cancel()
	var out, errb bytes.Buffer
	err := cli.Run(ctx, []string{"bench", "stream", "--stream", "kfake", "--dir", t.TempDir(), "--events", "300",
		"--duration", "1s", "--rates", "200", "--buffer-interval", "200ms", "--log-level", "warn"},
		cli.Options{Stdout: &out, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	report := out.String()
	t.Log("\n" + report)
	for _, re := range []string{
		`(?m)^bench stream: Kafka on kfake \(franz-go's in-process cluster, 4 partitions\); .* a backlog of 300 events`,
		`(?m)^  reference  plain consumer group \(franz-go\), commit at end +[1-9]\d* events/s  \(before the pipeline [1-9]\d*, after [1-9]\d*\)`,
		`(?m)^  pipeline   same backlog, to recommendations computed +[1-9]\d* events/s  ratio \d+\.\d+`,
		`(?m)^  pipeline   same backlog, to durable in the lake and acked +[1-9]\d* events/s`,
		`(?m)^  latency    broker → computed    at +200/s \(achieved +[1-9]\d*/s, [1-9]\d* events\)`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("no line matching %q in:\n%s", re, report)
		}
	}
}

func TestBenchStreamFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--rates", "fast"},
		{"--events", "0"},
		{"--lake", "file:///nowhere"},
		{"--buffer-interval", "10ms"},
		{"--stream", "kafka://127.0.0.1:9092/events"}, // Kafka is measured on kfake only
		{"--stream", "kfake://x"},
		{"--stream", "nats://"},
	} {
		var errb bytes.Buffer
		err := cli.Run(context.Background(), append([]string{"bench", "stream"}, args...), cli.Options{Stderr: &errb})
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%v: exit code %d (%v), want %d", args, cli.ExitCode(err), err, cli.ExitUsage)
		}
	}
}
