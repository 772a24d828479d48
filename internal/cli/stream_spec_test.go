package cli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/internal/cli"
	"github.com/recoflow/recoflow/recommend/recommendtest"
)

// TestStreamSpecModel: stream on a model trained on another shop's spec
// reads the events as the model's spec maps them when no spec is given
// (said in the log, before the stream is opened), and refuses, as a usage
// error naming the feature, a spec whose stream section maps a user
// feature the model does not have (the lab's city).
func TestStreamSpecModel(t *testing.T) {
	dir := t.TempDir()
	shop, err := recommendtest.Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	shop.Close()
	lakeURL, vecURL := "file://"+shop.LakeDir, "file://"+shop.VectorDir
	classic := filepath.Join(dir, "classic.yaml")
	if err := os.WriteFile(classic, dataset.ClassicYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, "stream", "--dataset", classic, "--lake", lakeURL, "--vectors", vecURL, "--stream", "nats://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), `"city"`) {
		t.Errorf("stream of the lab's events on the movie shop's model: %v\n%s", err, stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errb bytes.Buffer
	err = cli.Run(ctx, []string{"stream", "--lake", lakeURL, "--vectors", vecURL, "--stream", "nats://127.0.0.1:1"}, cli.Options{
		Stdout: io.Discard, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false },
	})
	stderr = errb.String()
	if err == nil {
		t.Fatal("stream from a broker that is not there: no error")
	}
	if !strings.Contains(stderr, "reading events as the model's dataset spec maps them") || !strings.Contains(stderr, "movie-shop") {
		t.Errorf("stream without --dataset on the movie shop's model: %v\n%s", err, stderr)
	}
}
