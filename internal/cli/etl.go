package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/source"
	"github.com/spf13/cobra"
)

// defaultSource is the embedded source database used when --source is not
// given.
const defaultSource = "sqlite://recoflow-data/shop.db"

func (a *app) etlCommand() *cobra.Command {
	var (
		sourceURL        string
		lf               lakeFlags
		onBadRows        string
		progressInterval time.Duration
		uploaders        int
		maxFileMiB       int
		allowEmpty       bool
		maxShrink        float64
		keepRuns         int
		gcWait           time.Duration
		specFile         string
	)
	cmd := &cobra.Command{
		Use:   "etl",
		Short: "Turn the source's ratings into partitioned Parquet training data in the lake",
		Long: `etl reads every rating joined with its customer and product from the source
database and writes the training dataset to the lake:

  <lake>/ratings_ml_training/customerNumber=<N>/part-*.snappy.parquet
  <lake>/ratings_ml_training/_manifest.json      (the commit: run id, rows per partition, schema, timings)

The files hold, in order, city, state, postalCode, country, creditLimit,
productCode, productLine, productScale, quantityInStock, buyPrice, MSRP and
productRating (customerNumber is the Hive partition). DuckDB, Spark, Athena and
pyarrow read them as they are.

A run commits atomically: readers see the previous complete dataset or the
new one, and a run that fails or is killed leaves the previous one intact.
Rows that cannot be training data (rating outside 1..5, NULL keys, unknown
customer or product) are counted and, with --on-bad-rows=quarantine, written
with the reason to <lake>/rejects/ratings_ml_training/<run id>.ndjson.

The same run exports the whole catalogue — every customer and every product,
rated or not — to <lake>/ratings_ml_training/_catalog/<run id>/, committed by
the same manifest.

One run at a time writes a lake: a run holds a lease on the dataset (a file
lock on a local lake; on S3 an object created with If-None-Match, renewed while
the run lasts and expiring a minute after its holder stops renewing it), and a
second run fails at once naming the holder's run id, host and pid.

A run that would commit zero rows, or lose more than --max-shrink of the
committed dataset's rows, is refused and the previous dataset stays; say
--allow-empty or raise --max-shrink when that is what you want. The previous
--keep-runs committed runs stay in the lake: "recoflow etl runs" lists them and
"recoflow etl rollback" commits one again.

With --dataset FILE the run follows that dataset spec instead (see
docs/DATASET_SPEC.md): the spec is checked against the source before a row is
read, and the training data goes to <lake>/<lake.dataset>/<partition>=<value>/
with the columns and Parquet types the spec and the source's column types
give. The built-in spec (no --dataset) is the layout above.`,
		Example: `  # the embedded defaults (after recoflow seed)
  recoflow etl

  # MySQL or MariaDB into S3 (credentials from the standard AWS chain)
  recoflow etl --source mysql://etl:secret@db.internal:3306/classicmodels --lake s3://my-lake/shop

  # an S3-compatible store
  recoflow etl --lake s3://lake --s3-endpoint http://127.0.0.1:7070 --s3-path-style

  # another shop's data, declared by a dataset spec
  recoflow etl --dataset shop.yaml --source mysql://etl:secret@db.internal:3306/shop

  # undo the last run: commit the previous one again
  recoflow etl runs
  recoflow etl rollback`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			policy, err := etl.ParseBadRowPolicy(onBadRows)
			if err != nil {
				return usageError("--on-bad-rows: %v", err)
			}
			if uploaders < 1 || uploaders > 256 {
				return usageError("--uploaders %d: want 1..256", uploaders)
			}
			if maxFileMiB < 1 {
				return usageError("--max-file-size %d: want at least 1 (MiB)", maxFileMiB)
			}
			if !(maxShrink > 0 && maxShrink <= 1) {
				return usageError("--max-shrink %g: want a fraction above 0 and at most 1 (1 disables the check)", maxShrink)
			}
			if gcWait <= 0 {
				return usageError("--gc-wait %s: want a positive duration", gcWait)
			}
			if keepRuns < 1 {
				return usageError("--keep-runs %d: want at least 1 (readers may still be on the previous run)", keepRuns)
			}
			spec, err := a.datasetSpec(cmd, specFile)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := connect.Source(ctx, sourceURL, connect.SourceOptions{})
			if errors.Is(err, source.ErrNotExist) {
				return fmt.Errorf("%w: run `recoflow seed` first to load the sample there, or point --source at the shop's database", err)
			}
			if err != nil {
				return err
			}
			defer db.Close()
			// Check the source before the lake is opened (and, for a local
			// lake, created).
			if err := etl.CheckSource(ctx, db, spec); err != nil {
				return err
			}
			bucket, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()

			prog := newProgressPrinter(a, "etl", "rows")
			sum, err := etl.Run(ctx, db, bucket, etl.Options{
				OnBadRows:        policy,
				Log:              a.log,
				Progress:         func(p etl.Progress) { prog.update(p.Rows, p.Total, p.Elapsed) },
				ProgressInterval: progressInterval,
				Uploaders:        uploaders,
				MaxFileBytes:     int64(maxFileMiB) << 20,
				AllowEmpty:       allowEmpty,
				MaxShrink:        maxShrink,
				KeepRuns:         keepRuns,
				GCWait:           gcWait,
				Spec:             spec,
			})
			prog.done()
			if err != nil {
				return err
			}
			return printETLSummary(a.opts.Stdout, bucket.String(), sum)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sourceURL, "source", defaultSource, "source database URL: sqlite:///path/shop.db or mysql://user:pass@host:3306/db")
	lf.register(f)
	f.StringVar(&onBadRows, "on-bad-rows", string(etl.Quarantine), "what to do with rows that cannot be training data: quarantine (keep them out, write them with the reason to the rejects file) or fail (stop at the first)")
	f.DurationVar(&progressInterval, "progress-interval", 2*time.Second, "how often to report progress")
	f.IntVar(&uploaders, "uploaders", 4, "concurrent file uploads to the lake")
	f.IntVar(&maxFileMiB, "max-file-size", 64, "start a new Parquet file in a partition past this many MiB")
	f.BoolVar(&allowEmpty, "allow-empty", false, "commit the run even if it has no rows (otherwise such a run is refused and the previous dataset stays)")
	f.Float64Var(&maxShrink, "max-shrink", etl.DefaultMaxShrink, "refuse a run that would lose more than this fraction of the committed dataset's rows (1 disables the check)")
	f.DurationVar(&gcWait, "gc-wait", time.Second, "after committing, wait at most this long for the removal of old staged runs (it starts with the run) before leaving the rest to the next run")
	f.IntVar(&keepRuns, "keep-runs", 1, "earlier committed runs to keep in the lake for `recoflow etl rollback`, besides the new one")
	f.StringVar(&specFile, "dataset", "", "dataset spec file (YAML) to follow (default: the built-in classicmodels spec)")
	cmd.AddCommand(a.etlRunsCommand(), a.etlRollbackCommand())
	return cmd
}

func printETLSummary(w io.Writer, lakeName string, s *etl.Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "etl committed run %s in %s\n", s.RunID, s.Duration.Round(time.Millisecond))
	rate := float64(s.Rows+s.Rejected) / s.Duration.Seconds()
	fmt.Fprintf(&b, "  rows        %s (%s rows/s)\n", groupDigits(s.Rows), groupDigits(int64(rate)))
	fmt.Fprintf(&b, "  partitions  %s\n", groupDigits(int64(s.Partitions)))
	fmt.Fprintf(&b, "  files       %s (%s)\n", groupDigits(int64(s.Files)), humanBytes(s.Bytes))
	if s.Customers > 0 || s.Products > 0 {
		fmt.Fprintf(&b, "  catalogue   %s customers, %s products\n", groupDigits(s.Customers), groupDigits(s.Products))
	}
	if s.Rejected > 0 || s.CatalogRejected > 0 {
		kinds := make([]string, 0, len(s.Rejects))
		for k, n := range s.Rejects {
			kinds = append(kinds, fmt.Sprintf("%s=%s", k, groupDigits(n)))
		}
		sort.Strings(kinds)
		fmt.Fprintf(&b, "  rejected    %s (%s)\n", groupDigits(s.Rejected+s.CatalogRejected), strings.Join(kinds, ", "))
		fmt.Fprintf(&b, "  rejects     %s/%s\n", strings.TrimSuffix(lakeName, "/"), s.RejectsKey)
	} else {
		fmt.Fprintf(&b, "  rejected    0\n")
	}
	fmt.Fprintf(&b, "  manifest    %s/%s\n", strings.TrimSuffix(lakeName, "/"), s.ManifestKey)
	_, err := io.WriteString(w, b.String())
	return err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
