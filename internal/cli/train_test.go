package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/internal/cli"
	lakefile "github.com/recoflow/recoflow/lake/file"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
)

// trainCLI runs recoflow in-process with an empty environment.
func trainCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cli.Run(context.Background(), args, cli.Options{
		Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
	})
	return out.String(), errb.String(), err
}

// trainingRecords builds a small dataset whose ratings depend on the
// features: customers in "north" countries like Ships and Planes, others
// like Classic Cars and Motorcycles; richer customers like dearer models.
func trainingRecords(customers, products int) []training.Record {
	lines := []string{"Classic Cars", "Motorcycles", "Planes", "Ships"}
	countries := []string{"France ", "USA", "Norway", "Sweden"}
	var recs []training.Record
	for c := range customers {
		country := countries[c%len(countries)]
		north := c%len(countries) >= 2
		credit := int64(2_000_000 + 500_000*(c%7)) // cents
		for k := range 8 {
			p := (c*3 + k*5) % products
			line := lines[p%len(lines)]
			msrp := int64(5_000 + 1_500*(p%9))
			score := 0
			if (line == "Ships" || line == "Planes") == north {
				score += 2
			}
			if (credit > 3_500_000) == (msrp > 11_000) {
				score++
			}
			rating := int32(1 + score + (c+p)%2)
			recs = append(recs, training.Record{
				CustomerNumber: int32(100 + c),
				Row: training.Row{
					City: fmt.Sprintf("City %d ", c%10), Country: country, CreditLimit: credit,
					ProductCode: fmt.Sprintf("S10_%04d", p), ProductLine: line, ProductScale: []string{"1:10", "1:18", "1:24"}[p%3],
					QuantityInStock: int32(100 * p), BuyPrice: msrp / 2, MSRP: msrp, ProductRating: min(rating, 5),
				},
			})
		}
	}
	return recs
}

// writeDataset commits recs as the lake's training dataset (DESIGN.md §4):
// one snappy Parquet file per customer partition, then the manifest.
func writeDataset(t *testing.T, dir string, recs []training.Record) {
	t.Helper()
	writeDatasetOf(t, dir, recs, func(rows []training.Row) []byte {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[training.Row](&buf, parquet.Compression(&snappy.Codec{}))
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	})
}

func writeDatasetOf(t *testing.T, dir string, recs []training.Record, encode func([]training.Row) []byte) {
	t.Helper()
	b, err := lakefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := training.Manifest{RunID: "test-run", Source: "test", Schema: training.Schema, Rows: int64(len(recs))}
	var order []int32
	parts := map[int32][]training.Row{}
	for _, r := range recs {
		if _, ok := parts[r.CustomerNumber]; !ok {
			order = append(order, r.CustomerNumber)
		}
		parts[r.CustomerNumber] = append(parts[r.CustomerNumber], r.Row)
	}
	for _, c := range order {
		rows := parts[c]
		data := encode(rows)
		rel := fmt.Sprintf("%s=%d/part-0.snappy.parquet", training.PartitionColumn, c)
		if err := b.Put(ctx, training.Dataset+"/"+rel, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		m.Partitions = append(m.Partitions, training.Partition{CustomerNumber: c, Rows: int64(len(rows)),
			Files: []training.File{{Path: rel, Rows: int64(len(rows)), Bytes: int64(len(data))}}})
	}
	data, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, training.Dataset+"/"+training.ManifestName, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func TestTrainCommand(t *testing.T) {
	dir := t.TempDir()
	recs := trainingRecords(60, 24)
	writeDataset(t, dir, recs)
	url := "file://" + dir

	out, stderr, err := trainCLI(t, "train", "--lake", url, "--version", "v1", "--seed", "3", "--epochs", "8")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	for _, want := range []string{"trained hybrid model v1 on 480 ratings (60 customers, 24 products)", "refit on all 480 ratings", "hold-out RMSE model", "global mean", "Precision@10", "NDCG@10", "ml-artifacts/v1/"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(stderr, "msg=epoch"); n < 1 || n > 8 {
		t.Errorf("want one progress line per epoch (1..8), got %d:\n%s", n, stderr)
	}

	// The artifacts: the lab's layout, the pointer, and a model that embeds
	// exactly what the files say.
	for _, f := range []string{model.ItemEmbeddingsFile, model.UserEmbeddingsFile, model.UserTowerFile, model.ItemTowerFile,
		model.UserEncoderFile, model.ItemEncoderFile, model.MetricsFile, model.LossCurveFile, model.ManifestName} {
		if _, err := os.Stat(filepath.Join(dir, "ml-artifacts", "v1", filepath.FromSlash(f))); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	if latest, err := os.ReadFile(filepath.Join(dir, "ml-artifacts", "LATEST")); err != nil || strings.TrimSpace(string(latest)) != "v1" {
		t.Errorf("LATEST = %q, %v", latest, err)
	}
	b, err := lakefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(context.Background(), b, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "ml-artifacts", "v1", "embeddings", "user_embeddings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	users := map[string]model.UserFeatures{}
	for _, r := range recs {
		users[fmt.Sprint(r.CustomerNumber)] = model.UserFeatures{City: r.City, Country: r.Country, CreditLimit: float64(r.CreditLimit) / 100}
	}
	n := 0
	err = embedding.Read(f, func(e embedding.Entry) error {
		n++
		got := m.EmbedKnownUser(e.ID, users[e.ID])
		if fmt.Sprint(got) != fmt.Sprint(e.Vector) {
			return fmt.Errorf("user %s: loaded model embeds %v, file says %v", e.ID, got, e.Vector)
		}
		return nil
	})
	if err != nil || n != 60 {
		t.Errorf("user embeddings: %d entries, %v", n, err)
	}
	var met model.Metrics
	data, _ := os.ReadFile(filepath.Join(dir, "ml-artifacts", "v1", "metrics.json"))
	if err := json.Unmarshal(data, &met); err != nil || met.DatasetRunID != "test-run" || met.Config.Seed != 3 {
		t.Errorf("metrics.json: run %q seed %d, %v", met.DatasetRunID, met.Config.Seed, err)
	}

	// The same version again is refused; a new one moves LATEST.
	if _, _, err := trainCLI(t, "train", "--lake", url, "--version", "v1", "--epochs", "1"); err == nil || cli.ExitCode(err) != cli.ExitFailure {
		t.Errorf("training version v1 again: %v", err)
	}
	if _, stderr, err := trainCLI(t, "train", "--lake", url, "--version", "v2", "--epochs", "1"); err != nil {
		t.Fatalf("train v2: %v\n%s", err, stderr)
	}
	if v, err := model.LatestVersion(context.Background(), b); err != nil || v != "v2" {
		t.Errorf("latest = %q, %v; want v2", v, err)
	}
}

// TestTrainCommandBadInput checks that each bad dataset gives a clear error
// and leaves no artifacts.
func TestTrainCommandBadInput(t *testing.T) {
	type wrongRow struct {
		City    string  `parquet:"city"`
		Country string  `parquet:"country"`
		Rating  float64 `parquet:"productRating"`
	}
	good := trainingRecords(10, 8)
	outOfRange := trainingRecords(10, 8)
	outOfRange[5].ProductRating = 9
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"no dataset", func(t *testing.T, dir string) {}, "no committed training dataset"},
		{"uncommitted files only", func(t *testing.T, dir string) {
			writeDataset(t, dir, good)
			if err := os.Remove(filepath.Join(dir, training.Dataset, training.ManifestName)); err != nil {
				t.Fatal(err)
			}
		}, "no committed training dataset"},
		{"empty dataset", func(t *testing.T, dir string) { writeDataset(t, dir, nil) }, "empty"},
		{"single row", func(t *testing.T, dir string) { writeDataset(t, dir, good[:1]) }, "at least 3"},
		{"wrong schema", func(t *testing.T, dir string) {
			writeDatasetOf(t, dir, good, func(rows []training.Row) []byte {
				var buf bytes.Buffer
				w := parquet.NewGenericWriter[wrongRow](&buf)
				for _, r := range rows {
					if _, err := w.Write([]wrongRow{{City: r.City, Country: r.Country, Rating: float64(r.ProductRating)}}); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			})
		}, "schema"},
		{"rating out of range", func(t *testing.T, dir string) { writeDataset(t, dir, outOfRange) }, "not a number from 1 to 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, stderr, err := trainCLI(t, "train", "--lake", "file://"+dir, "--epochs", "2")
			if err == nil {
				t.Fatalf("train succeeded\n%s", stderr)
			}
			if !strings.Contains(err.Error(), tc.want) || cli.ExitCode(err) != cli.ExitFailure {
				t.Errorf("error %q (exit %d), want one containing %q (exit 1)", err, cli.ExitCode(err), tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "ml-artifacts")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ml-artifacts exists after a failed run (%v)", err)
			}
		})
	}
}

func TestTrainCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--version", "../escape"},
		{"--dim", "0"},
		{"--batch-size", "-1"},
		{"--learning-rate", "-0.1"},
		{"--holdout", "0.95"},
		{"--holdout", "-0.1"},
		{"--tune", "-1"},
		{"--tune-time", "0s"},
		{"--id-dropout", "1"},
		{"--temperature", "0"},
		{"--negatives", "0"},
		{"--history-source", "bogus"},
		{"--history-weight", "NaN"},
		{"extra-argument"},
	} {
		_, _, err := trainCLI(t, append([]string{"train", "--lake", "file://" + dir}, args...)...)
		if cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("train %v: %v (exit %d), want a usage error (exit 2)", args, err, cli.ExitCode(err))
		}
	}
}

// TestTrainCommandHoldoutZeroAndTune: --holdout 0 publishes a model trained
// on every rating without hold-out figures; --tune logs each trial and
// trains with the best.
func TestTrainCommandHoldoutZeroAndTune(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, trainingRecords(40, 16))
	url := "file://" + dir
	out, stderr, err := trainCLI(t, "train", "--lake", url, "--version", "all", "--holdout", "0", "--epochs", "3")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	for _, want := range []string{"0 hold-out ratings", "hold-out      none", "refit on all 320 ratings"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, stderr, err = trainCLI(t, "train", "--lake", url, "--version", "tuned", "--tune", "3", "--epochs", "3")
	if err != nil {
		t.Fatalf("train --tune: %v\n%s", err, stderr)
	}
	if n := strings.Count(stderr, "msg=\"tuning trial\""); n != 3 {
		t.Errorf("want 3 tuning trials logged, got %d:\n%s", n, stderr)
	}
	if !strings.Contains(out, "trained hybrid model tuned") {
		t.Errorf("summary:\n%s", out)
	}
}

// TestTrainCommandHistoryAndRefitFlags: --history-source, --history-weight
// and --refit-epochs (here from a config file) reach the model, as
// metrics.json records; --history-weight -1 turns the blend off.
func TestTrainCommandHistoryAndRefitFlags(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, trainingRecords(40, 16))
	url := "file://" + dir
	cfgFile := filepath.Join(t.TempDir(), "recoflow.yaml")
	if err := os.WriteFile(cfgFile, []byte("train:\n  refit-epochs: 2\n  history-source: items\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	read := func(version string) model.Metrics {
		t.Helper()
		var met model.Metrics
		data, err := os.ReadFile(filepath.Join(dir, "ml-artifacts", version, "metrics.json"))
		if err == nil {
			err = json.Unmarshal(data, &met)
		}
		if err != nil {
			t.Fatal(err)
		}
		return met
	}
	if _, stderr, err := trainCLI(t, "train", "--config", cfgFile, "--lake", url, "--version", "fixed", "--epochs", "3",
		"--history-weight", "0.5", "--item-neighbour-weight", "2", "--evaluation=false"); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	met := read("fixed")
	if h := met.History; h == nil || h.Source != model.HistoryItems || h.Weight != 0.5 || h.ItemWeight != 2 || h.Chosen {
		t.Errorf("history %+v, want items 0.5 and item neighbours 2 as set", h)
	}
	if met.Config.RefitEpochs != 2 || met.Refit.Epochs != 2 {
		t.Errorf("refit epochs: config %d, ran %d; want 2", met.Config.RefitEpochs, met.Refit.Epochs)
	}
	if _, stderr, err := trainCLI(t, "train", "--lake", url, "--version", "off", "--epochs", "3",
		"--history-weight", "-1", "--item-neighbour-weight", "-1", "--evaluation=false"); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if h := read("off").History; h != nil && h.Weight != 0 {
		t.Errorf("history %+v, want none", h)
	}
	out, _, err := trainCLI(t, "train", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--history-weight", "--history-source", "--item-neighbour-weight", "--refit-epochs", "history blend"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestTrainCommandUnwritableLakeFailsBeforeTraining: when the artifacts
// cannot be written (here ml-artifacts is a file, not a directory: the
// tests run as root, so permissions would not stop them), train fails
// before its first epoch, naming the lake.
func TestTrainCommandUnwritableLakeFailsBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, trainingRecords(20, 8))
	if err := os.WriteFile(filepath.Join(dir, "ml-artifacts"), []byte("not a directory"), 0o444); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := trainCLI(t, "train", "--lake", "file://"+dir, "--epochs", "2")
	if err == nil || !strings.Contains(err.Error(), "not writable") || cli.ExitCode(err) != cli.ExitFailure {
		t.Fatalf("train = %v (exit %d), want a not-writable failure", err, cli.ExitCode(err))
	}
	if strings.Contains(stderr, "msg=epoch") {
		t.Errorf("trained before failing:\n%s", stderr)
	}
}

// TestTrainOnTheSample trains on the classicmodels sample after the ETL:
// every customer and product of the catalogue gets an embedding (rated or
// not), and metrics.json holds the evaluation table with the hybrid, the
// content-only model and the baselines, cold start included.
func TestTrainOnTheSample(t *testing.T) {
	lakeURL := sampleLake(t)
	out, stderr, err := trainCLI(t, "train", "--lake", lakeURL, "--version", "v1")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", out)
	dir := strings.TrimPrefix(lakeURL, "file://")
	count := func(name string) int {
		f, err := os.Open(filepath.Join(dir, "ml-artifacts", "v1", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n := 0
		if err := embedding.Read(f, func(embedding.Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if u, i := count(model.UserEmbeddingsFile), count(model.ItemEmbeddingsFile); u != 122 || i != 110 {
		t.Errorf("embeddings for %d customers and %d products, want the catalogue's 122 and 110", u, i)
	}
	var met struct {
		Evaluation *eval.Report `json:"evaluation"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "ml-artifacts", "v1", "metrics.json"))
	if err := json.Unmarshal(data, &met); err != nil || met.Evaluation == nil {
		t.Fatalf("metrics.json evaluation: %v", err)
	}
	ndcg := map[string]float64{}
	for _, r := range met.Evaluation.Methods {
		ndcg[r.Method] = r.NDCGAtK
	}
	for _, m := range []string{"hybrid", "content-only", "popularity", "item-knn", "als", "bpr", "ease"} {
		if _, ok := ndcg[m]; !ok {
			t.Errorf("evaluation lacks %s: %v", m, ndcg)
		}
	}
	if len(met.Evaluation.ColdStart) == 0 {
		t.Error("evaluation lacks the cold-start table")
	}
	if ndcg["hybrid"] <= ndcg["popularity"] {
		t.Errorf("hybrid NDCG@10 %.4f does not beat popularity %.4f", ndcg["hybrid"], ndcg["popularity"])
	}
}
