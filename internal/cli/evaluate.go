package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/training"
	"github.com/spf13/cobra"
)

// evaluationsPrefix is where evaluate keeps its reports in the lake.
const evaluationsPrefix = model.Prefix + "/evaluations/"

// allEvalMethods are the method names evaluate knows, in table order.
var allEvalMethods = []string{"popularity", "item-knn", "als", "bpr", "ease", "content-only", "hybrid"}

func (a *app) evaluateCommand() *cobra.Command {
	var (
		lf      lakeFlags
		opt     eval.Options
		methods []string
		out     string
		spec    string
		easeMax int
	)
	cmd := &cobra.Command{
		Use:   "evaluate",
		Short: "Compare the model with baselines on held-out ratings (P@k, R@k, NDCG@k, MAP@k, hit rate, coverage, RMSE)",
		Long: `evaluate reads the committed training dataset from the lake, splits it
(--split random: a seeded --test-fraction of each customer's ratings held out;
--split time: each customer's latest), fits every method in --methods on the
training part and ranks, for every test customer, every product the customer
has no training rating of. Products the customer rated 4 or more in the
held-out part are the relevant ones; customers with none are skipped. The same
split and candidates serve every method. A second split holds out
--cold-start-fraction of the customers entirely, to compare what each method
recommends to a customer it has never seen.

Methods: popularity (number of training ratings), item-knn (cosine, 20
neighbours), als (implicit ALS, the implicit library's defaults), bpr (BPR
matrix factorisation, Gorse's defaults), ease (Steck's EASE, a dense item-item
linear model; skipped, with a note, above --ease-max-items products),
content-only and hybrid (recoflow's model). Like the model, which weighs
ratings below 4 as the data says, item-knn, als and ease learn from every
rating or, when those rank a validation split of their training data 5 %
better, from the ratings of 4 and 5 alone: the table then says "(ratings ≥ 4)"
and a note gives both figures. docs/EVALUATION.md states the protocol in full.

It prints both tables and writes the report as JSON to --out (if given) and
to the lake as ml-artifacts/evaluations/<UTC time>.json.`,
		Example: `  # all methods on the default lake
  recoflow evaluate

  # the baselines only, top 20, another seed, report to a file
  recoflow evaluate --methods popularity,item-knn,als,bpr,ease --k 20 --seed 7 --out eval.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.K < 1 {
				return usageError("--k %d: want at least 1", opt.K)
			}
			if !(opt.TestFraction > 0 && opt.TestFraction < 1) {
				return usageError("--test-fraction %v: want a number between 0 and 1 (exclusive)", opt.TestFraction)
			}
			if !(opt.ColdStartFraction >= 0 && opt.ColdStartFraction < 1) {
				return usageError("--cold-start-fraction %v: want a number from 0 (no cold-start table) up to 1 (exclusive)", opt.ColdStartFraction)
			}
			if opt.ColdStartFraction == 0 {
				opt.ColdStartFraction = -1 // eval.Options: negative means none
			}
			if easeMax < 1 {
				return usageError("--ease-max-items %d: want at least 1", easeMax)
			}
			if opt.Split != eval.SplitRandom && opt.Split != eval.SplitTime {
				return usageError("--split %q: want random or time", opt.Split)
			}
			for _, m := range methods {
				if !slices.Contains(allEvalMethods, m) {
					return usageError("--methods: unknown method %q; known: %s", m, strings.Join(allEvalMethods, ", "))
				}
			}
			ctx := cmd.Context()
			b, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer b.Close()

			start := time.Now()
			a.log.Info("reading training dataset", "lake", b.String())
			ds, err := a.datasetSpec(cmd, spec)
			if err != nil {
				return err
			}
			in, man, err := loadEvalInput(ctx, b, ds, opt.Seed, easeMax)
			if err != nil {
				if errors.Is(err, training.ErrNoDataset) {
					return err
				}
				return fmt.Errorf("read the training dataset: %w", err)
			}
			var ms []eval.Method
			for _, name := range methods {
				m, err := in.method(name)
				if err != nil {
					return usageError("--methods: %v", err)
				}
				ms = append(ms, m)
			}
			a.log.Info("evaluating", "ratings", len(in.data.Interactions), "customers", in.data.NumUsers, "products", in.data.NumItems,
				"dataset_run", man.RunID, "methods", len(ms), "k", opt.K, "split", opt.Split, "seed", opt.Seed)
			opt.Progress = func(msg string) { a.log.Info("evaluate", "step", msg) }
			rep, err := eval.Run(ctx, in.data, ms, opt)
			if err != nil {
				if errors.Is(err, eval.ErrNoTime) {
					return usageError("--split time: the training data has no rating times; use --split random")
				}
				return err
			}
			body, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return err
			}
			body = append(body, '\n')
			if out != "" {
				if err := writeFileAtomic(out, body); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			key := evaluationsPrefix + model.NewVersion(time.Now()) + ".json"
			if err := b.Put(ctx, key, bytes.NewReader(body)); err != nil {
				return fmt.Errorf("write the report to the lake: %w", err)
			}
			a.log.Info("evaluated", "report", key, "elapsed", time.Since(start).Round(time.Millisecond).String())
			where := strings.TrimSuffix(b.String(), "/") + "/" + key
			if out != "" {
				where = out + " and " + where
			}
			return printEvaluation(a.opts.Stdout, rep, len(in.data.Interactions), where)
		},
	}
	f := cmd.Flags()
	lf.register(f)
	f.IntVar(&opt.K, "k", eval.DefaultK, "length of the ranked lists scored (the k of P@k, NDCG@k, …)")
	f.Uint64Var(&opt.Seed, "seed", 1, "random seed of the splits and of the seeded methods")
	f.Float64Var(&opt.TestFraction, "test-fraction", eval.DefaultTestFraction, "share of each customer's ratings held out for testing")
	f.Float64Var(&opt.ColdStartFraction, "cold-start-fraction", eval.DefaultColdStartFraction, "share of customers held out entirely for the cold-start table (0: none)")
	f.StringVar(&opt.Split, "split", eval.SplitRandom, "how ratings are held out: random (per customer) or time (each customer's latest; needs rating times)")
	f.StringSliceVar(&methods, "methods", allEvalMethods, "methods to evaluate, comma-separated: "+strings.Join(allEvalMethods, ", "))
	f.IntVar(&easeMax, "ease-max-items", baseline.DefaultEASEMaxItems, "most products EASE is used for (its fit is O(products³)): the ease baseline, skipped with a note above it, and the hybrid's ease history source")
	f.StringVar(&out, "out", "", "also write the report JSON to this file")
	f.StringVar(&spec, "dataset", "", "dataset spec file (YAML) of the training data (default: the config file's dataset key, else the built-in classicmodels spec)")
	return cmd
}

// evalInput is the dataset as eval data and the methods that can run on it.
type evalInput struct {
	data   *eval.Data
	method func(name string) (eval.Method, error)
}

// loadEvalInput reads the committed dataset (with its catalogue, so
// customers and products without ratings count too) and converts it to eval
// data with the dataset's indices (model.Dataset.EvalData); the model's
// methods are trained with the model's default settings and seed, EASE
// (the baseline, and the model's history source) bounded by easeMaxItems.
func loadEvalInput(ctx context.Context, b lake.BucketReader, spec *dataset.Spec, seed uint64, easeMaxItems int) (*evalInput, *training.Manifest, error) {
	d, man, err := model.ReadSpecDataset(ctx, b, spec)
	if err != nil {
		return nil, nil, err
	}
	data, _, _ := d.EvalData()
	in := &evalInput{data: data, method: func(name string) (eval.Method, error) {
		if m := baselineMethod(name, seed, easeMaxItems); m != nil {
			return m, nil
		}
		cfg := model.DefaultConfig()
		cfg.Seed = seed
		cfg.EASEMaxItems = easeMaxItems
		switch name {
		case "hybrid":
			return model.Method(d, cfg), nil
		case "content-only":
			cfg.ContentOnly = true
			return model.Method(d, cfg), nil
		}
		return nil, fmt.Errorf("unknown method %q", name)
	}}
	return in, man, nil
}

// baselineMethods are the baselines' names, in table order.
var baselineMethods = []string{"popularity", "item-knn", "als", "bpr", "ease"}

// baselineMethod returns the baseline called name, seeded (ease bounded by
// easeMaxItems), or nil.
func baselineMethod(name string, seed uint64, easeMaxItems int) eval.Method {
	switch name {
	case "popularity":
		return eval.Popularity{}
	case "item-knn":
		return baseline.ChoosePositives{Method: baseline.ItemKNN{}, Seed: seed}
	case "als":
		return baseline.ChoosePositives{Method: baseline.ALS{Seed: seed}, Seed: seed}
	case "bpr": // Gorse's defaults: the ratings of 4 and 5 are its positives
		return baseline.BPR{Seed: seed}
	case "ease":
		return baseline.ChoosePositives{Method: baseline.EASE{MaxItems: easeMaxItems}, Seed: seed}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it,
// so a reader never sees half a report.
func writeFileAtomic(path string, data []byte) error {
	dir, base := ".", path
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		dir, base = path[:i+1], path[i+1:]
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func printEvaluation(w io.Writer, rep *eval.Report, ratings int, where string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "evaluation on %d ratings (%d customers, %d products), split %s, k=%d\n\n",
		ratings, rep.Users, rep.Items, rep.Split, rep.K)
	table := func(title string, rs []eval.Result) {
		fmt.Fprintf(&b, "%s\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		k := rep.K
		name := func(r eval.Result) string {
			if r.Input != "" {
				return r.Method + " (" + r.Input + ")"
			}
			return r.Method
		}
		width := len("method")
		for _, r := range rs {
			width = max(width, utf8.RuneCountInString(name(r)))
		}
		fmt.Fprintf(tw, "%-*s\tP@%d\tR@%d\tNDCG@%d\tMAP@%d\tHR@%d\tcoverage\tRMSE\tfit\tusers\t\n", width, "method", k, k, k, k, k)
		for _, r := range rs {
			rmse := "-"
			if r.RMSE != nil {
				rmse = fmt.Sprintf("%.4f", *r.RMSE)
			}
			fmt.Fprintf(tw, "%-*s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\t%.2fs\t%d\t\n",
				width, name(r), r.PrecisionAtK, r.RecallAtK, r.NDCGAtK, r.MAPAtK, r.HitRateAtK, r.Coverage, rmse, r.FitSeconds, r.Users)
		}
		tw.Flush()
	}
	table("held-out ratings", rep.Methods)
	if len(rep.ColdStart) > 0 {
		b.WriteString("\n")
		table("cold start (customers held out entirely)", rep.ColdStart)
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\nreport: %s\n", where)
	_, err := io.WriteString(w, b.String())
	return err
}
