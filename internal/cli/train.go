package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
	"github.com/spf13/cobra"
)

func (a *app) trainCommand() *cobra.Command {
	var (
		lf      lakeFlags
		version string
		cfg     model.Config
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the two-tower recommender on the lake's training data and publish the ML artifacts",
		Long: `train reads the committed training dataset from the lake (the output of
recoflow etl; only a committed one), fits the feature encoders and trains the
content-based two-tower model: a user tower (city, country, credit limit) and
an item tower (product line, scale, stock, buy price, MSRP), each a ReLU layer
then a linear embedding, trained so that the cosine similarity of the two
embeddings matches the rating rescaled to -1..1.

The ratings are split with --seed into training (80%), validation (10%, picks
the best epoch) and hold-out (10%, gives the reported metrics). The same data
and flags give the same model, bit for bit, on any number of cores.

It writes, under <lake>/ml-artifacts/<version>/:
  embeddings/item_embeddings.csv  embeddings/user_embeddings.csv  (id,embedding)
  model/  (both towers' weights)  scalers/  (encoders and scalers)
  metrics.json  loss.png  manifest.json (written last: it commits the version)
and then ml-artifacts/LATEST, which names the new version. A failed run
publishes nothing.

Progress is logged after every epoch; the hold-out figures (RMSE against the
global-mean, per-item-mean and per-user-mean baselines; Precision@10 and
NDCG@10 against popularity) are printed at the end.`,
		Example: `  # train on the embedded default lake, version named after the time
  recoflow train

  # a chosen version and seed, on S3
  recoflow train --lake s3://shop-lake/prod --version 2026-11-25 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if version != "" {
				if err := model.CheckVersion(version); err != nil {
					return usageError("--version: %v", err)
				}
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"dim", cfg.Dim}, {"hidden", cfg.Hidden}, {"epochs", cfg.Epochs}} {
				if f.v < 1 {
					return usageError("--%s %d: want at least 1", f.name, f.v)
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageError("%v", err)
			}
			ctx := cmd.Context()
			b, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()

			start := time.Now()
			a.log.Info("reading training dataset", "lake", b.String())
			d, man, err := model.ReadDataset(ctx, b)
			if err != nil {
				if errors.Is(err, training.ErrNoDataset) {
					return err
				}
				return fmt.Errorf("read the training dataset: %w", err)
			}
			a.log.Info("training", "ratings", d.Len(), "customers", d.NumUsers(), "products", d.NumItems(),
				"dataset_run", man.RunID, "seed", cfg.Seed, "read", time.Since(start).Round(time.Millisecond).String())
			cfg.Progress = func(e model.EpochStats) {
				a.log.Info("epoch", "epoch", e.Epoch, "train_loss", round4(e.TrainLoss), "validation_loss", round4(e.ValidationLoss),
					"validation_rmse", round4(e.ValidationRMSE), "best", e.Best, "elapsed", fmt.Sprintf("%.2fs", e.Seconds))
			}
			res, err := model.Train(ctx, d, cfg)
			if err != nil {
				return err
			}
			res.Metrics.DatasetRunID = man.RunID
			if version != "" {
				if err := res.Save(ctx, b, version); err != nil {
					return err
				}
			} else {
				// A version named after the time; two runs in the same
				// second get a suffix rather than an error.
				base := model.NewVersion(time.Now())
				for i := 1; ; i++ {
					version = base
					if i > 1 {
						version = fmt.Sprintf("%s-%d", base, i)
					}
					err := res.Save(ctx, b, version)
					if err == nil {
						break
					}
					if !errors.Is(err, model.ErrVersionExists) || i >= 100 {
						return err
					}
				}
			}
			a.log.Info("published", "version", version, "lake", b.String(), "elapsed", time.Since(start).Round(time.Millisecond).String())
			return printTrainSummary(a.opts.Stdout, res.Metrics, fmt.Sprintf("%s/%s/", strings.TrimSuffix(b.String(), "/"), model.Key(version, "")))
		},
	}
	f := cmd.Flags()
	lf.register(f)
	def := model.DefaultConfig()
	f.StringVar(&version, "version", "", "name of the artifacts version (default: the UTC time, e.g. 20261125T153000Z)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the split, the initial weights and the batch order")
	f.IntVar(&cfg.Dim, "dim", def.Dim, "embedding dimension")
	f.IntVar(&cfg.Hidden, "hidden", def.Hidden, "width of each tower's hidden ReLU layer")
	f.IntVar(&cfg.Epochs, "epochs", def.Epochs, "most passes over the training ratings")
	f.IntVar(&cfg.Patience, "patience", def.Patience, "stop after this many epochs without a better validation loss (negative: never)")
	f.IntVar(&cfg.BatchSize, "batch-size", 0, "ratings per optimizer step (0: 256, 512 or 1024 by dataset size)")
	f.Float64Var(&cfg.LearningRate, "learning-rate", 0, "Adam learning rate (0: 0.003·√(batch size/256))")
	return cmd
}

// round4 keeps log lines short: 4 decimals.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func printTrainSummary(w io.Writer, m *model.Metrics, where string) error {
	var b strings.Builder
	h := m.Holdout
	fmt.Fprintf(&b, "trained model %s on %d ratings (%d customers, %d products) in %.1fs\n",
		m.Version, m.Ratings, m.Users, m.Items, m.TrainingSeconds)
	best := m.Epochs[m.BestEpoch-1]
	fmt.Fprintf(&b, "  epochs        %d, kept %d (validation RMSE %.4f)\n", len(m.Epochs), m.BestEpoch, best.ValidationRMSE)
	fmt.Fprintf(&b, "  split         %d training, %d validation, %d hold-out ratings\n", m.Split.Train, m.Split.Validation, m.Split.Holdout)
	fmt.Fprintf(&b, "  hold-out RMSE model %.4f | global mean %.4f | item mean %.4f | user mean %.4f\n",
		h.RMSE.Model, h.RMSE.GlobalMean, h.RMSE.ItemMean, h.RMSE.UserMean)
	fmt.Fprintf(&b, "  Precision@%d  model %.4f | popularity %.4f (%d users)\n", h.Ranking.K, h.Ranking.Model.Precision, h.Ranking.Popularity.Precision, h.Ranking.Users)
	fmt.Fprintf(&b, "  NDCG@%d       model %.4f | popularity %.4f\n", h.Ranking.K, h.Ranking.Model.NDCG, h.Ranking.Popularity.NDCG)
	fmt.Fprintf(&b, "  throughput    %.0f ratings/s\n", m.RatingsPerSecond)
	fmt.Fprintf(&b, "  artifacts     %s (now %s)\n", where, model.LatestKey)
	_, err := io.WriteString(w, b.String())
	return err
}
