package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/spf13/cobra"
)

func (a *app) specCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Show, draft and check dataset specs (which tables, keys, feedback and features recoflow reads)",
		Long: `A dataset spec is a YAML file that declares a shop's data: the interactions
table (or query) with its user and item keys and its feedback, the users' and
items' tables with their ids and feature columns, the lake dataset, and how
stream events map onto users and items. docs/DATASET_SPEC.md is the reference.

  spec show   print the built-in classicmodels spec (or a spec file, defaults filled)
  spec init   draft a spec from a source database's schema, for you to edit
  spec check  validate a spec file and check it against a source database

seed, etl (with etl runs and rollback), train, evaluate, produce and stream
follow a spec given with --dataset FILE or the config file's dataset key;
vectors load, serve and stream follow the spec recorded in the model's
artifacts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.specShowCommand(), a.specInitCommand(), a.specCheckCommand())
	return cmd
}

// loadSpec reads the spec file at path, or returns the built-in spec when
// path is empty. An invalid file is a usage error.
func loadSpec(path string) (*dataset.Spec, error) {
	if path == "" {
		s := dataset.Classic()
		return &s, nil
	}
	s, err := dataset.Load(path)
	if err != nil {
		var se *dataset.Error
		if errors.As(err, &se) {
			return nil, &ExitError{Code: ExitUsage, Err: err}
		}
		return nil, usageError("--dataset: %v", err)
	}
	return s, nil
}

func (a *app) specShowCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the built-in classicmodels dataset spec, or a spec file with its defaults filled",
		Long: `show prints the built-in dataset spec — the lab's classicmodels shop, which
every stage runs on — as a commented YAML file, a starting point for your own.
With --dataset, or when the config file has a dataset key, it validates that
spec and prints it with every default filled.`,
		Example: `  recoflow spec show > classicmodels.yaml
  recoflow spec show --dataset shop.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, from, err := a.resolveDataset(cmd, file)
			if err != nil {
				return err
			}
			if from.builtIn {
				_, err := a.opts.Stdout.Write(dataset.ClassicYAML())
				return err
			}
			out, err := dataset.Marshal(s)
			if err != nil {
				return err
			}
			_, err = a.opts.Stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&file, "dataset", "", "dataset spec file to print with its defaults filled (default: the config file's dataset key, else print the built-in classicmodels spec)")
	return cmd
}

func (a *app) specInitCommand() *cobra.Command {
	var sourceURL string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Draft a dataset spec from a source database's schema and print it",
		Long: `init reads the source's schema — tables, columns and their types, primary and
foreign keys; no rows — and prints a draft spec for you to review:

  - the interactions table is one that refers to two other tables (by foreign
    keys, or by columns named like their primary keys), preferring one with a
    rating-like number column (rating, score, stars), then a quantity-like one;
  - users are the referenced table named like users (customer, member, …);
  - ids and their types come from the referenced columns;
  - feature kinds come from column types (numbers numeric, short text
    categorical, columns named like genres or tags multi_categorical, TEXT
    columns text); names, contact details, descriptions, dates and the ids of
    other tables are left out. Comments at the top list the guesses.

Then check it: recoflow spec check --dataset FILE --source URL.`,
		Example: `  recoflow spec init --source mysql://reader:secret@db:3306/shop > shop.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, err := connect.Source(ctx, sourceURL, connect.SourceOptions{})
			if err != nil {
				return err
			}
			defer db.Close()
			cat, err := db.Describe(ctx)
			if err != nil {
				return err
			}
			d, err := dataset.DraftFrom(&cat)
			if err != nil {
				return fmt.Errorf("draft a spec from %s: %w", db, err)
			}
			out, err := d.YAML()
			if err != nil {
				return err
			}
			_, err = a.opts.Stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&sourceURL, "source", defaultSource, "source database URL to read the schema of: sqlite:///path/shop.db or mysql://user:pass@host:3306/db")
	return cmd
}

func (a *app) specCheckCommand() *cobra.Command {
	var file, sourceURL string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a dataset spec and check it against a source database (tables, columns, types; no rows read)",
		Long: `check validates the spec file (unknown keys, kinds, missing settings — each
named by its key path and line) and then checks it against the source: every
table and column exists, ids have the declared id type, join keys have the
same type on both sides, numeric features and feedback are numbers,
multi_categorical and text features are text, the timestamp is a time. It
finally selects the spec's columns with a query that returns no row, so names
with spaces or reserved words are proven to work. No row is read.

Without --dataset it checks the config file's dataset spec (its top-level
dataset key), else the built-in classicmodels spec.
Exit status: 0 when the spec fits the source, 2 when the spec itself is
invalid, 1 when it does not fit the source (or the source is unreachable).`,
		Example: `  recoflow spec check --dataset shop.yaml --source mysql://reader:secret@db:3306/shop
  recoflow spec check      # the built-in spec against the embedded sample`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, from, err := a.resolveDataset(cmd, file)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := connect.Source(ctx, sourceURL, connect.SourceOptions{})
			if err != nil {
				return err
			}
			defer db.Close()
			if err := dataset.Check(ctx, db, s); err != nil {
				return err
			}
			name := file
			switch {
			case from.config != "":
				name = "(the config file's dataset key)"
			case name == "":
				name = "(built-in)"
			}
			writeSpecSummary(a.opts.Stdout, s, name, db.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "dataset", "", "dataset spec file (YAML) to check (default: the built-in classicmodels spec)")
	f.StringVar(&sourceURL, "source", defaultSource, "source database URL to check against: sqlite:///path/shop.db or mysql://user:pass@host:3306/db")
	return cmd
}

// writeSpecSummary prints what a checked spec reads.
func writeSpecSummary(w io.Writer, s *dataset.Spec, name, where string) {
	in := s.Interactions
	from := in.Table
	if from == "" {
		from = "query"
	}
	fb := in.Feedback.Kind
	switch {
	case in.Feedback.Scale != nil:
		fb += fmt.Sprintf(" %g–%g (%s)", in.Feedback.Scale.Min, in.Feedback.Scale.Max, in.Feedback.Column)
	case in.Feedback.Column != "":
		fb += " (" + in.Feedback.Column + ")"
	}
	fmt.Fprintf(w, "dataset spec %s (%s) fits %s\n", name, s.Name, where)
	fmt.Fprintf(w, "  interactions  %s: %s → %s.%s, %s → %s.%s; feedback %s", from,
		in.UserKey, s.Users.Table, s.Users.ID, in.ItemKey, s.Items.Table, s.Items.ID, fb)
	if in.Timestamp != "" {
		fmt.Fprintf(w, "; timestamp %s", in.Timestamp)
	}
	fmt.Fprintln(w)
	for _, side := range []struct {
		label string
		e     dataset.Entity
	}{{"users", s.Users}, {"items", s.Items}} {
		feats := make([]string, len(side.e.Features))
		for i, f := range side.e.Features {
			feats[i] = f.FeatureName() + " " + f.Kind
		}
		fmt.Fprintf(w, "  %-13s %s, id %s (%s); features: %s\n", side.label, side.e.Table, side.e.ID, side.e.IDType, strings.Join(feats, ", "))
	}
	fmt.Fprintf(w, "  %-13s %s/%s=<…>/\n", "lake", s.Lake.Dataset, s.Lake.Partition)
	fmt.Fprintln(w, "note: seed, etl, train, evaluate, produce and stream follow this spec with --dataset; vectors load, serve and stream follow the model's own spec.")
}
