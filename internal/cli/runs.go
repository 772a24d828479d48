package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/spf13/cobra"
)

// etlRunsCommand is `recoflow etl runs`: the committed runs still in the
// lake, which `etl rollback` can commit again.
func (a *app) etlRunsCommand() *cobra.Command {
	var lf lakeFlags
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the committed ETL runs still in the lake (the ones etl rollback can restore)",
		Long: `runs lists the committed ETL runs whose files are still in the lake, most
recently committed first; * marks the current one. How many earlier runs are
kept is etl's --keep-runs. Runs committed by a recoflow that kept no run
history are not listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			bucket, err := lf.open(ctx)
			if err != nil {
				return err
			}
			defer bucket.Close()
			runs, err := etl.Runs(ctx, bucket)
			if err != nil {
				return err
			}
			return printRuns(a.opts.Stdout, bucket.String(), runs)
		},
	}
	lf.register(cmd.Flags())
	return cmd
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
	var lf lakeFlags
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
			sum, err := etl.Rollback(ctx, bucket, runID, etl.Options{Log: a.log})
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
	return cmd
}
