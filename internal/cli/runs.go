package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/model"
	"github.com/spf13/cobra"
)

// etlRunsCommand is `recoflow etl runs`: the committed runs still in the
// lake, which `etl rollback` can commit again.
func (a *app) etlRunsCommand() *cobra.Command {
	var (
		lf       lakeFlags
		specFile string
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the committed ETL runs still in the lake (the ones etl rollback can restore)",
		Long: `runs lists the committed ETL runs whose files are still in the lake, most
recently committed first; * marks the current one. How many earlier runs are
kept is etl's --keep-runs. Runs committed by a recoflow that kept no run
history are not listed. The dataset is the spec's lake.dataset (--dataset, else
the config file's dataset key, else the built-in classicmodels spec). A lake
directory that does not exist is an error: runs creates nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := a.datasetSpec(cmd, specFile)
			if err != nil {
				return err
			}
			if err := lakeMustExist(lf.url); err != nil {
				return err
			}
			ctx := cmd.Context()
			bucket, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()
			full := spec.WithDefaults()
			runs, err := etl.RunsOf(ctx, bucket, full.Lake.Dataset)
			if err != nil {
				return err
			}
			return printRuns(a.opts.Stdout, bucket.String(), runs)
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&specFile, "dataset", "", "dataset spec file (YAML) whose lake dataset to list (default: the config file's dataset key, else the built-in classicmodels spec)")
	return cmd
}

// lakeMustExist reports an error naming the directory when raw is a file
// lake (a path, or a file:// URL) whose directory does not exist, so that a
// command that only reads does not create it.
func lakeMustExist(raw string) error {
	p := raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "file" {
			return nil // connect reports a bad URL; other lakes are not directories
		}
		p = u.Path
		if u.Host != "" && u.Host != "localhost" {
			p = u.Host + u.Path
		}
	}
	if p == "" {
		return nil
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lake %s: no directory %s: nothing has been written there yet (run recoflow etl first, or check --lake)", raw, p)
	}
	return nil
}

func printRuns(w io.Writer, lakeName string, runs []etl.RunInfo) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintf(w, "no committed runs in %s that can be restored\n", lakeName)
		return err
	}
	fmt.Fprintf(w, "committed runs in %s, newest first (* = current):\n", lakeName)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RUN\tCOMMITTED\tBY\tROWS\tPARTITIONS\tSIZE")
	for _, r := range runs {
		mark := " "
		if r.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\n", mark, r.RunID, r.CommittedAt.UTC().Format(time.DateTime+"Z"), r.Via,
			groupDigits(r.Rows), groupDigits(int64(r.Partitions)), humanBytes(r.Bytes))
	}
	return tw.Flush()
}

// etlRollbackCommand is `recoflow etl rollback [RUN]`.
func (a *app) etlRollbackCommand() *cobra.Command {
	var (
		lf       lakeFlags
		specFile string
	)
	cmd := &cobra.Command{
		Use:   "rollback [RUN]",
		Short: "Commit an earlier ETL run again (by default the one before the current)",
		Long: `rollback commits again a run that "recoflow etl runs" lists — RUN, or by
default the most recently committed run before the current one — after
checking that every file of it is still in the lake. Like a run, it holds the
dataset's lease, so it never interleaves with a running etl, and readers see
the old dataset or the restored one, never a mix. It removes nothing: the run
it replaces stays listed and can be restored the same way.`,
		Example: `  recoflow etl runs
  recoflow etl rollback
  recoflow etl rollback 20261127T150405Z-1a2b3c4d`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := a.datasetSpec(cmd, specFile)
			if err != nil {
				return err
			}
			if err := lakeMustExist(lf.url); err != nil {
				return err
			}
			runID := ""
			if len(args) == 1 {
				runID = strings.TrimSpace(args[0])
			}
			ctx := cmd.Context()
			bucket, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()
			opts := etl.Options{Log: a.log}
			if !model.IsBuiltIn(spec) {
				opts.Spec = spec
			}
			sum, err := etl.Rollback(ctx, bucket, runID, opts)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "etl rollback committed run %s again in %s\n", sum.RunID, sum.Duration.Round(time.Millisecond))
			fmt.Fprintf(&b, "  rows        %s\n", groupDigits(sum.Rows))
			fmt.Fprintf(&b, "  partitions  %s\n", groupDigits(int64(sum.Partitions)))
			if sum.Replaced != "" {
				fmt.Fprintf(&b, "  replaced    %s (still listed by recoflow etl runs)\n", sum.Replaced)
			}
			fmt.Fprintf(&b, "  manifest    %s/%s\n", strings.TrimSuffix(bucket.String(), "/"), sum.ManifestKey)
			_, err = io.WriteString(a.opts.Stdout, b.String())
			return err
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&specFile, "dataset", "", "dataset spec file (YAML) whose lake dataset to roll back (default: the config file's dataset key, else the built-in classicmodels spec)")
	return cmd
}
