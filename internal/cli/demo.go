package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) demoCommand() *cobra.Command {
	var (
		dir     string
		dataset string
		ratings int
		seedN   uint64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on the embedded defaults, in one process",
		Long: `demo runs every stage, one after the other, on embedded backends under --dir:

  1. seed          the shop database (SQLite)            <dir>/shop.db
  2. etl           Parquet training data in a local lake  <dir>/lake/ratings_ml_training/
  3. train         the two-tower model and its artifacts  <dir>/lake/ml-artifacts/<version>/
  4. vectors load  the embeddings into the embedded store <dir>/vectors/

It needs nothing but this program: no database server, no network. Running it
again replaces the data it made before. Each stage is also its own command,
with flags for the real systems (MySQL, S3, PostgreSQL + pgvector); see
recoflow <command> --help.`,
		Example: `  recoflow demo                                   # the real classicmodels sample
  recoflow demo --dataset generated --ratings 1000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset != datasetClassicmodels && dataset != datasetGenerated {
				return usageError("--dataset %q: want classicmodels or generated", dataset)
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return usageError("--dir %q: %v", dir, err)
			}
			if err := os.MkdirAll(abs, 0o777); err != nil {
				return fmt.Errorf("create --dir: %w", err)
			}
			src := "sqlite://" + filepath.Join(abs, "shop.db")
			lakeURL := "file://" + filepath.Join(abs, "lake")
			vecURL := "file://" + filepath.Join(abs, "vectors")

			seedArgs := []string{"seed", "--source", src, "--dataset", dataset, "--replace"}
			if dataset == datasetGenerated {
				seedArgs = append(seedArgs, "--ratings", strconv.Itoa(ratings), "--seed", strconv.FormatUint(seedN, 10))
			}
			steps := []struct {
				title string
				args  []string
			}{
				{"seed the shop database", seedArgs},
				{"extract training data to the lake", []string{"etl", "--source", src, "--lake", lakeURL}},
				{"train the recommender", []string{"train", "--lake", lakeURL, "--seed", strconv.FormatUint(max(seedN, 1), 10)}},
				{"load the embeddings into the vector store", []string{"vectors", "load", "--lake", lakeURL, "--vectors", vecURL}},
			}
			start := time.Now()
			for i, s := range steps {
				fmt.Fprintf(a.opts.Stdout, "\n== %d/%d %s: recoflow %s\n", i+1, len(steps), s.title, strings.Join(s.args, " "))
				args := append(append([]string{}, s.args...), "--log-level", a.logLevel, "--log-format", a.logFormat)
				if err := Run(cmd.Context(), args, a.opts); err != nil {
					return fmt.Errorf("demo step %d (%s): %w", i+1, s.title, err)
				}
			}
			fmt.Fprintf(a.opts.Stdout, `
== done in %s. Where everything is:
  shop database     %s
  training data     %s/ratings_ml_training/  (manifest: _manifest.json)
  model artifacts   %s/ml-artifacts/  (LATEST names the newest version)
  vector store      %s
`, time.Since(start).Round(time.Millisecond), src, lakeURL, lakeURL, vecURL)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "recoflow-data", "directory for everything the demo makes")
	f.StringVar(&dataset, "dataset", datasetClassicmodels, "classicmodels (the real sample) or generated")
	f.IntVar(&ratings, "ratings", 100000, "generated: number of ratings")
	f.Uint64Var(&seedN, "seed", 1, "random seed of the generated data and of training")
	return cmd
}
