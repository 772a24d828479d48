package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/seed"
	"github.com/spf13/cobra"
)

// Datasets of recoflow seed.
const (
	datasetClassicmodels = "classicmodels"
	datasetGenerated     = "generated"
)

func (a *app) seedCommand() *cobra.Command {
	var (
		sourceURL        string
		dataset          string
		gen              seed.GenOptions
		shape            = seed.DefaultShape()
		replace          bool
		progressInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Create the shop database (classicmodels + ratings) in an empty source",
		Long: `seed creates the shop's tables in the source database and fills them.

  --dataset classicmodels  the real MySQL sample: 122 customers, 110 products,
                           326 orders, 2,996 order lines, plus the lab's 2,532
                           ratings (one per customer and product ordered)
  --dataset generated      a classicmodels-shaped dataset of any size, the same
                           for the same --seed; ratings 1..5 follow a hidden
                           taste of each region for each product line and of
                           richer customers for dearer products, a latent
                           taste of each customer for each product that no
                           feature explains (--latent-weight), long-tailed
                           product popularity (--popularity-skew) and
                           customers rating what they like
                           (--selection-bias), plus noise
  --dataset FILE           generated data for the dataset spec FILE (.yaml or
                           .yml, or a path with a slash): its users, items and
                           interactions tables, with ids of its id types,
                           feature values of its kinds, its feedback and
                           timestamp, and the same latent tastes, popularity
                           and selection bias; --customers, --products and
                           --ratings count its users, items and interactions

Without a FILE, the dataset spec is the config file's top-level dataset key
(a spec file's path, relative to the config file, or the spec inline), else
the built-in classicmodels spec. When that spec is not the built-in one,
seed generates data for it (--dataset generated is implied, and
--dataset classicmodels is an error: the lab's sample fits only its own
spec). docs/DATASET_SPEC.md lists the column types seed gives each kind.

The tables are those of the classicmodels dump (customers, employees, offices,
orderdetails, orders, payments, productlines, products) plus ratings. A
generated dataset fills productlines, offices and employees from the sample,
generates customers, products and ratings, and leaves the order tables empty.

Sizes of a generated dataset default from --ratings (100,000 when omitted):
customers = ratings/100 (at least 50), products = enough for each customer to
choose among twice as many products as it rates (at least 110). Giving any size
selects --dataset generated unless --dataset says otherwise.

A SQLite source file (and its directory) is created if missing; a MySQL
database is created if the user may. seed refuses a source that already holds
any of the tables and names them; --replace drops and recreates them. A seed
that fails or is interrupted drops the tables it created.`,
		Example: `  # the sample into the embedded default, sqlite://recoflow-data/shop.db
  recoflow seed

  # a SQLite file elsewhere, replacing what it holds
  recoflow seed --source sqlite:///var/lib/recoflow/shop.db --replace

  # the sample into MySQL or MariaDB (the database is created if missing)
  recoflow seed --source mysql://admin:secret@127.0.0.1:3306/classicmodels

  # ten million generated ratings (about 100,000 customers and 200 products)
  recoflow seed --source mysql://admin:secret@db:3306/shop --dataset generated --ratings 10000000 --seed 7

  # a shop of your own: 50,000 generated interactions for the spec shop.yaml
  recoflow seed --source sqlite://shop.db --dataset shop.yaml --ratings 50000 --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --dataset names what to load: a keyword, or a spec file to
			// generate data for.
			file := ""
			if dataset != datasetClassicmodels && dataset != datasetGenerated {
				if !looksLikeSpecFile(dataset) {
					return usageError("--dataset %q: want classicmodels, generated or a dataset spec file (.yaml or .yml)", dataset)
				}
				file = dataset
			}
			spec, from, err := a.resolveDataset(cmd, file)
			if err != nil {
				return err
			}
			classic := seed.IsClassic(spec)
			sized := gen.Customers != 0 || gen.Products != 0 || gen.Ratings != 0 ||
				cmd.Flags().Changed("latent-weight") || cmd.Flags().Changed("popularity-skew") || cmd.Flags().Changed("selection-bias")
			given := a.flagGiven(cmd, "dataset")
			switch {
			case file != "":
				dataset = datasetGenerated
			case dataset == datasetClassicmodels && !classic && given:
				return usageError("--dataset classicmodels loads the lab's sample, which fits only the built-in classicmodels spec, "+
					"but the dataset spec is %s (%s); use --dataset generated to generate data for it", spec.Name, from)
			case dataset == datasetClassicmodels && !cmd.Flags().Changed("dataset") && !classic:
				dataset = datasetGenerated
			case dataset == datasetClassicmodels && !cmd.Flags().Changed("dataset") && sized:
				dataset = datasetGenerated
			}
			switch dataset {
			case datasetClassicmodels:
				if sized || cmd.Flags().Changed("seed") {
					return usageError("--customers, --products, --ratings, --seed, --latent-weight, --popularity-skew and --selection-bias apply only to --dataset generated")
				}
			case datasetGenerated:
				gen.Shape = &shape
				var err error
				if gen, err = gen.WithDefaults(); err != nil {
					var se *seed.SizeError
					if errors.As(err, &se) {
						return usageError("--%s %s", se.Option, se.Msg)
					}
					return err
				}
				if !classic {
					if _, err := seed.SpecTables(spec); err != nil {
						return usageError("%v (%s)", err, from)
					}
				}
			}
			if progressInterval <= 0 {
				return usageError("--progress-interval %s: want a positive duration", progressInterval)
			}

			ctx := cmd.Context()
			shown := connect.Redact(sourceURL)
			db, err := connect.Source(ctx, sourceURL, connect.SourceOptions{Create: true})
			if err != nil {
				return err
			}
			defer db.Close()

			start := time.Now()
			prog := newProgressPrinter(a, "seed", "rows")
			interval := progressInterval
			if a.opts.IsTerminal {
				interval = min(interval, 200*time.Millisecond)
			}
			last := start // the first report after one interval, when the rate means something
			opts := seed.Options{Replace: replace, Progress: func(done, total int64) {
				if now := time.Now(); now.Sub(last) >= interval || done == total {
					last = now
					prog.update(done, total, now.Sub(start))
				}
			}}

			var stats seed.Stats
			switch {
			case dataset == datasetClassicmodels:
				a.log.Info("seeding", "source", shown, "dataset", dataset, "replace", replace)
				stats, err = seed.Classicmodels(ctx, db, opts)
			case classic:
				a.log.Info("seeding", "source", shown, "dataset", dataset, "customers", gen.Customers,
					"products", gen.Products, "ratings", gen.Ratings, "seed", gen.Seed, "replace", replace)
				gen.Options = opts
				stats, err = seed.Generated(ctx, db, gen)
			default:
				a.log.Info("seeding", "source", shown, "dataset", dataset, "spec", spec.Name, "spec_from", from.String(),
					"users", gen.Customers, "items", gen.Products, "interactions", gen.Ratings, "seed", gen.Seed, "replace", replace)
				stats, err = seed.GeneratedFor(ctx, db, spec, seed.SpecOptions{Users: gen.Customers, Items: gen.Products,
					Interactions: gen.Ratings, Seed: gen.Seed, Shape: gen.Shape, Options: opts})
			}
			prog.done()
			if err != nil {
				return err
			}
			a.log.Info("seeded", "source", shown, "rows", stats.Rows, "elapsed", stats.Elapsed.Round(time.Millisecond).String())
			what, next := "the classicmodels sample", ""
			switch {
			case dataset == datasetGenerated && classic:
				what = fmt.Sprintf("a generated dataset (seed %d)", gen.Seed)
			case dataset == datasetGenerated:
				what = fmt.Sprintf("a generated dataset for the spec %s (seed %d)", spec.Name, gen.Seed)
				if from.file != "" {
					next = " --dataset " + from.file
				}
			}
			return printSeedSummary(a.opts.Stdout, what, db.String(), shown+next, stats)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sourceURL, "source", defaultSource, "source database URL: sqlite:///path/shop.db, sqlite://relative/shop.db or mysql://user:pass@host:3306/db")
	f.StringVar(&dataset, "dataset", datasetClassicmodels, "what to load: classicmodels (the real sample), generated, or a dataset spec `FILE` to generate data for (default: the config file's dataset spec, if any)")
	f.IntVar(&gen.Customers, "customers", 0, "generated: number of customers, or of a spec's users (default ratings/100, at least 50)")
	f.IntVar(&gen.Products, "products", 0, "generated: number of products, or of a spec's items (default: twice what the average customer rates, at least 110)")
	f.IntVar(&gen.Ratings, "ratings", 0, "generated: number of ratings, or of a spec's interactions (default 100000)")
	f.Uint64Var(&gen.Seed, "seed", 0, "generated: random seed; the same seed and sizes give the same rows")
	f.Float64Var(&shape.LatentWeight, "latent-weight", shape.LatentWeight, "generated: strength of each customer's hidden taste for each product, which no feature explains (0: none)")
	f.Float64Var(&shape.PopularitySkew, "popularity-skew", shape.PopularitySkew, "generated: Zipf exponent of product popularity (0: every product as likely to be rated)")
	f.Float64Var(&shape.SelectionBias, "selection-bias", shape.SelectionBias, "generated: how much customers prefer to rate products they like (0: not at all)")
	f.BoolVar(&replace, "replace", false, "drop and recreate the tables if the source already has them")
	f.DurationVar(&progressInterval, "progress-interval", 2*time.Second, "how often to report progress when stderr is not a terminal")
	return cmd
}

func printSeedSummary(w io.Writer, what, db, url string, s seed.Stats) error {
	var b strings.Builder
	fmt.Fprintf(&b, "seeded %s in %s\n", what, s.Elapsed.Round(time.Millisecond))
	for _, t := range s.Tables {
		fmt.Fprintf(&b, "  %-13s %12s\n", t.Table, groupDigits(t.Rows))
	}
	rate := float64(s.Rows) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(&b, "  %-13s %12s (%s rows/s)\n", "total", groupDigits(s.Rows), groupDigits(int64(rate)))
	fmt.Fprintf(&b, "  database      %s\n", db)
	fmt.Fprintf(&b, "next: recoflow etl --source %s\n", url)
	_, err := io.WriteString(w, b.String())
	return err
}

// looksLikeSpecFile reports whether a --dataset value names a spec file
// rather than misspelling classicmodels or generated.
func looksLikeSpecFile(v string) bool {
	ext := strings.ToLower(filepath.Ext(v))
	return ext == ".yaml" || ext == ".yml" || strings.ContainsAny(v, `/\`)
}

// groupDigits writes n with thousands separators: 2532 → "2,532".
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
