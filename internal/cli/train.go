package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
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
	var (
		holdout    float64
		evaluation bool
		tune       int
		tuneTime   time.Duration
		specFile   string
		easeMax    int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the hybrid two-tower recommender on the lake's training data and publish the ML artifacts",
		Long: `train reads the committed training dataset from the lake (the output of
recoflow etl; only a committed one), fits the feature encoders and trains the
hybrid two-tower model: a user tower (the lab's city, country, credit limit,
or the features a --dataset spec declares) and an item tower (product line,
scale, stock, buy price, MSRP, or the spec's), each a ReLU layer then a
linear embedding, plus a learned id vector for every customer and product with
ratings. It is trained for cosine retrieval with a sampled softmax over
in-batch negatives (popularity-corrected); id vectors are dropped at random
during training so that the towers alone serve shoppers and products the data
has never seen (--content-only trains the towers alone).

The ratings are split with --seed: --holdout of them (10%; 0 for none) give
the reported figures, 10% (validation) pick the number of epochs by NDCG@10,
the rest are trained on. Then the model is refit on every rating for the
chosen number of epochs, and the refit is what gets published. On large data
(a validation split of at least 2,000 ratings of 4 or more) the refit continues
from the validation run's weights for half its best epoch count; on smaller
data it starts afresh (--refit-epochs sets the warm refit's length, -1 always
starts afresh). The same data and flags give the same model, bit for bit, on
any number of cores.

Two item-kNN terms are folded into the published vectors. Each product is
turned towards the products bought by the same shoppers (its 20 co-rating
neighbours) by --item-neighbour-weight β; each known shopper towards the
products they rated (the history blend): --history-source items (those
products' own embeddings), neighbours (their item-kNN neighbourhoods) or ease
(their neighbourhoods by the weights of Steck's EASE, only for catalogues of
at most --ease-max-items products), at --history-weight w. By default the
validation split of the validation run, which never trains on it, chooses all
three: β = 1, ease at w = 2 (neighbours at w = 1 above --ease-max-items)
unless another combination is clearly better there (by more than two standard
errors of the per-shopper NDCG@10 differences). -1 turns either weight off.

--tune N first tries N settings (a seeded random search over the learning
rates, id dropout, temperature, popularity correction, weight decay and
low-rating weight, the
first being the flags' own) on the validation split, for at most --tune-time,
and trains with the best by validation NDCG@10.

It writes, under <lake>/ml-artifacts/<version>/:
  embeddings/item_embeddings.csv  embeddings/user_embeddings.csv  (id,embedding)
  model/  (both towers' weights, the id vectors)  scalers/  (encoders and scalers)
  metrics.json  loss.png  manifest.json (written last: it commits the version)
and then ml-artifacts/LATEST, which names the new version. A failed run
publishes nothing; a lake the artifacts cannot be written to fails before
training.

Progress is logged after every epoch; the hold-out figures (Precision@10 and
NDCG@10 against popularity; RMSE of the rating head against the global-mean,
per-item-mean and per-user-mean baselines) are printed at the end.`,
		Example: `  # train on the embedded default lake, version named after the time
  recoflow train

  # a chosen version and seed, on S3
  recoflow train --lake s3://shop-lake/prod --version 2026-11-25 --seed 7

  # try 20 settings for at most 10 minutes, publish the best
  recoflow train --tune 20 --tune-time 10m

  # publish a model trained on every rating, without a hold-out evaluation
  recoflow train --holdout 0`,
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
			}{{"dim", cfg.Dim}, {"hidden", cfg.Hidden}, {"epochs", cfg.Epochs}, {"negatives", cfg.Negatives}} {
				if f.v < 1 {
					return usageError("--%s %d: want at least 1", f.name, f.v)
				}
			}
			if !(holdout >= 0 && holdout < 0.9) {
				return usageError("--holdout %v: want 0 (none) or a fraction below 0.9", holdout)
			}
			if tune < 0 {
				return usageError("--tune %d: want 0 (none) or a number of settings", tune)
			}
			if easeMax < 1 {
				return usageError("--ease-max-items %d: want at least 1", easeMax)
			}
			if tuneTime <= 0 {
				return usageError("--tune-time %v: want a positive duration", tuneTime)
			}
			cfg.EASEMaxItems = easeMax
			cfg.HoldoutFraction = holdout
			if holdout == 0 {
				cfg.HoldoutFraction = -1
			}
			// On the command line 0 means none, not the default.
			for _, p := range []*float64{&cfg.IDDropout, &cfg.LogQ, &cfg.WeightDecay} {
				if *p == 0 {
					*p = -1
				}
			}
			for _, f := range []struct {
				name string
				v    float64
			}{{"temperature", cfg.Temperature}, {"id-learning-rate", cfg.IDLearningRate}} {
				if !(f.v > 0) {
					return usageError("--%s %v: want a positive number", f.name, f.v)
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
			spec, err := a.datasetSpec(cmd, specFile)
			if err != nil {
				return err
			}
			d, man, err := model.ReadSpecDataset(ctx, b, spec)
			if err != nil {
				if errors.Is(err, training.ErrNoDataset) {
					return err
				}
				return fmt.Errorf("read the training dataset: %w", err)
			}
			// Fail now, not after training, if the artifacts cannot be
			// written.
			if err := model.CheckWritable(ctx, b); err != nil {
				return err
			}
			a.log.Info("training", "ratings", d.Len(), "customers", d.NumUsers(), "products", d.NumItems(),
				"dataset_run", man.RunID, "seed", cfg.Seed, "read", time.Since(start).Round(time.Millisecond).String())
			if tune > 0 {
				best, _, err := model.Tune(ctx, d, cfg, model.TuneOptions{Trials: tune, Time: tuneTime, Progress: func(tr model.Trial) {
					a.log.Info("tuning trial", "trial", tr.Trial, "validation_ndcg", round4(tr.ValidationNDCG), "epochs", tr.Epochs,
						"learning_rate", round4(tr.Config.LearningRate), "id_learning_rate", round4(tr.Config.IDLearningRate),
						"id_dropout", round4(tr.Config.IDDropout), "temperature", round4(tr.Config.Temperature),
						"logq", round4(tr.Config.LogQ), "weight_decay", tr.Config.WeightDecay,
						"low_rating_weight", round4(tr.Config.LowRatingWeight), "best", tr.Best,
						"elapsed", fmt.Sprintf("%.1fs", tr.Seconds))
				}})
				if err != nil {
					return err
				}
				cfg = best
			}
			cfg.Progress = func(e model.EpochStats) {
				a.log.Info("epoch", "epoch", e.Epoch, "train_loss", round4(e.TrainLoss), "validation_ndcg", round4(e.ValidationNDCG),
					"validation_precision", round4(e.ValidationPrecision), "best", e.Best, "elapsed", fmt.Sprintf("%.2fs", e.Seconds))
			}
			res, err := model.Train(ctx, d, cfg)
			if err != nil {
				return err
			}
			if holdout > 0 && evaluation {
				rep, err := evaluateModel(ctx, a, d, cfg, holdout, easeMax)
				if err != nil {
					return fmt.Errorf("evaluation: %w", err)
				}
				res.Metrics.Evaluation = rep
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
	f.StringVar(&specFile, "dataset", "", "dataset spec file (YAML) of the training data (default: the config file's dataset key, else the built-in classicmodels spec)")
	def := model.DefaultConfig()
	f.StringVar(&version, "version", "", "name of the artifacts version (default: the UTC time, e.g. 20261125T153000Z)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the split, the initial weights and the batch order")
	f.IntVar(&cfg.Dim, "dim", def.Dim, "embedding dimension")
	f.IntVar(&cfg.Hidden, "hidden", def.Hidden, "width of each tower's hidden ReLU layer")
	f.IntVar(&cfg.Epochs, "epochs", def.Epochs, "most passes over the training ratings")
	f.IntVar(&cfg.Patience, "patience", def.Patience, "stop after this many epochs without a better validation loss (negative: never)")
	f.IntVar(&cfg.BatchSize, "batch-size", 0, "ratings per optimizer step (0: 256, 512 or 1024 by dataset size)")
	f.Float64Var(&cfg.LearningRate, "learning-rate", 0, "Adam learning rate (0: 0.02·√(batch size/256))")
	f.Float64Var(&cfg.IDLearningRate, "id-learning-rate", def.IDLearningRate, "learning rate of the id vectors, relative to --learning-rate")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", def.WeightDecay, "decoupled weight decay per step, relative to the learning rate (0: none)")
	f.BoolVar(&cfg.ContentOnly, "content-only", false, "train the feature towers alone, without id vectors")
	f.Float64Var(&cfg.IDDropout, "id-dropout", def.IDDropout, "probability of leaving an id vector out of a training step (0: never)")
	f.Float64Var(&cfg.Temperature, "temperature", def.Temperature, "softmax temperature of the cosine similarities")
	f.Float64Var(&cfg.LogQ, "logq", def.LogQ, "strength of the popularity correction of the in-batch negatives (0: none, up to 4)")
	f.IntVar(&cfg.Negatives, "negatives", def.Negatives, "most in-batch items each rating is contrasted with")
	f.Float64Var(&cfg.MinRating, "min-rating", 0, "ratings below this are not trained on as positives (0: every rating is)")
	f.Var(lowRatingWeightFlag{&cfg.LowRatingWeight}, "low-rating-weight", "weight of ratings below 4 as positives, 0 to 1 (1: like any rating, 0: not trained on; auto: 0.5, or 0.25 when the ratings of 4 and 5 alone predict the validation ratings better; metrics.json says which)")
	f.IntVar(&cfg.RefitEpochs, "refit-epochs", 0, "epochs of the refit on every rating, continuing from the validation run (0: automatic, see above; -1: refit from scratch for the chosen epochs)")
	f.Float64Var(&cfg.HistoryWeight, "history-weight", 0, "weight w of the history blend of known shoppers' vectors, e.g. 1 (0: chosen on the validation split; -1: no blend)")
	f.Float64Var(&cfg.ItemNeighbourWeight, "item-neighbour-weight", 0, "weight β turning each product's vector towards its co-rating neighbours, e.g. 1 (0: chosen on the validation split; -1: none)")
	f.StringVar(&cfg.HistorySource, "history-source", "", "what the history blend sums: items, neighbours or ease (empty: chosen on the validation split)")
	f.Float64Var(&holdout, "holdout", 0.1, "fraction of the ratings held out for the reported evaluation (0: none)")
	f.BoolVar(&evaluation, "evaluation", true, "with a hold-out, also run the evaluation protocol (hybrid, content-only and the baselines, cold start too) into metrics.json")
	f.IntVar(&easeMax, "ease-max-items", baseline.DefaultEASEMaxItems, "most products EASE is used for (its fit is O(products³)): the history blend's ease source, and the evaluation's ease baseline, skipped with a note above it")
	f.IntVar(&tune, "tune", 0, "try this many settings on the validation split first and train with the best (0: none)")
	f.DurationVar(&tuneTime, "tune-time", 30*time.Minute, "most time --tune spends on its trials")
	return cmd
}

// evaluateModel runs the evaluation protocol of package eval on d, holding
// out the fraction holdout of each customer's ratings: the hybrid model
// (cfg), the content-only model, popularity, item-kNN, implicit ALS, BPR
// and EASE (skipped with a note above easeMaxItems products), and the
// cold-start table.
func evaluateModel(ctx context.Context, a *app, d *model.Dataset, cfg model.Config, holdout float64, easeMaxItems int) (*eval.Report, error) {
	data, _, _ := d.EvalData()
	content := cfg
	content.ContentOnly = true
	methods := []eval.Method{model.Method(d, cfg), model.Method(d, content)}
	for _, name := range baselineMethods {
		methods = append(methods, baselineMethod(name, cfg.Seed, easeMaxItems))
	}
	a.log.Info("evaluating", "methods", len(methods), "test_fraction", holdout)
	return eval.Run(ctx, data, methods, eval.Options{Seed: cfg.Seed, TestFraction: holdout,
		Progress: func(msg string) { a.log.Info("evaluate", "step", msg) }})
}

// round4 keeps log lines short: 4 decimals.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func printTrainSummary(w io.Writer, m *model.Metrics, where string) error {
	var b strings.Builder
	h := m.Holdout
	kind := "hybrid"
	if m.Config.ContentOnly {
		kind = "content-only"
	}
	fmt.Fprintf(&b, "trained %s model %s on %d ratings (%d customers, %d products) in %.1fs\n",
		kind, m.Version, m.Ratings, m.Users, m.Items, m.TrainingSeconds)
	best := m.Epochs[m.BestEpoch-1]
	fmt.Fprintf(&b, "  epochs        %d, kept %d (validation NDCG@10 %.4f)\n", len(m.Epochs), m.BestEpoch, best.ValidationNDCG)
	fmt.Fprintf(&b, "  split         %d training, %d validation, %d hold-out ratings\n", m.Split.Train, m.Split.Validation, m.Split.Holdout)
	fmt.Fprintf(&b, "  published     refit on all %d ratings for %d epochs; id vectors for %d customers and %d products\n",
		m.Refit.Ratings, m.Refit.Epochs, m.Refit.Users, m.Refit.Items)
	if h.Ratings > 0 {
		fmt.Fprintf(&b, "  Precision@%d  model %.4f | popularity %.4f (%d users)\n", h.Ranking.K, h.Ranking.Model.Precision, h.Ranking.Popularity.Precision, h.Ranking.Users)
		fmt.Fprintf(&b, "  NDCG@%d       model %.4f | popularity %.4f\n", h.Ranking.K, h.Ranking.Model.NDCG, h.Ranking.Popularity.NDCG)
		if r := h.RMSE; !h.Implicit {
			fmt.Fprintf(&b, "  hold-out RMSE model %.4f | global mean %.4f | item mean %.4f | user mean %.4f\n",
				r.Model, r.GlobalMean, r.ItemMean, r.UserMean)
		} else {
			fmt.Fprintf(&b, "  hold-out RMSE none (implicit feedback: no rating to predict)\n")
		}
	} else {
		fmt.Fprintf(&b, "  hold-out      none (--holdout 0)\n")
	}
	if rep, ok := m.Evaluation.(*eval.Report); ok && rep != nil {
		fmt.Fprintf(&b, "  evaluation    %s (NDCG@%d | P@%d; cold start NDCG@%d):\n", rep.Split, rep.K, rep.K, rep.K)
		cold := map[string]float64{}
		for _, r := range rep.ColdStart {
			cold[r.Method] = r.NDCGAtK
		}
		for _, r := range rep.Methods {
			c, ok := cold[r.Method]
			cs := "-"
			if ok {
				cs = fmt.Sprintf("%.4f", c)
			}
			fmt.Fprintf(&b, "    %-13s %.4f | %.4f; cold start %s\n", r.Method, r.NDCGAtK, r.PrecisionAtK, cs)
		}
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "    note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "  throughput    %.0f ratings/s\n", m.RatingsPerSecond)
	fmt.Fprintf(&b, "  artifacts     %s (now %s)\n", where, model.LatestKey)
	_, err := io.WriteString(w, b.String())
	return err
}

// lowRatingWeightFlag is --low-rating-weight: a weight from 0 to 1, or
// "auto" (the default: model.Config's 0, the data chooses). A weight of 0
// is stored as model.Config's negative, which means none.
type lowRatingWeightFlag struct{ w *float64 }

func (f lowRatingWeightFlag) String() string {
	switch {
	case *f.w == 0:
		return "auto"
	case *f.w < 0:
		return "0"
	}
	return strconv.FormatFloat(*f.w, 'g', -1, 64)
}

func (f lowRatingWeightFlag) Set(s string) error {
	if s == "auto" {
		*f.w = 0
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || !(x >= 0 && x <= 1) {
		return fmt.Errorf("%q: want a number from 0 to 1, or auto", s)
	}
	if x == 0 {
		x = -1
	}
	*f.w = x
	return nil
}

func (lowRatingWeightFlag) Type() string { return "weight" }
