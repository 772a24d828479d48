package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/recoflow/recoflow/internal/connect"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the program version, set at build time with
// -ldflags "-X github.com/recoflow/recoflow/internal/cli.Version=…".
var Version = "dev"

// Options are the process-level inputs of a CLI run.
type Options struct {
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// IsTerminal reports whether Stderr is a terminal (for progress bars).
	IsTerminal bool
}

// ExitError carries the process exit code of a failed command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit codes.
const (
	ExitFailure = 1 // the command failed
	ExitUsage   = 2 // bad flags, arguments or configuration
)

// usageError marks an error as the user's input being wrong (exit code 2).
func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// app is the state shared by all subcommands of one run.
type app struct {
	opts        Options
	configFile  string
	logFormat   string
	logLevel    string
	cpuProfile  string
	profileFile *os.File
	log         *slog.Logger
}

// Run executes the command line args (without the program name) and returns
// nil or an error whose exit code ExitCode extracts.
func Run(ctx context.Context, args []string, opts Options) error {
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	a := &app{opts: opts}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(opts.Stdout)
	root.SetErr(opts.Stderr)
	// A command that fails leaves no empty lake or vector directories.
	ctx, removeCreated := connect.TrackCreatedDirs(ctx)
	err := root.ExecuteContext(ctx)
	if err != nil {
		removeCreated()
		var ee *ExitError
		if !errors.As(err, &ee) && isCobraUsageError(err) {
			err = &ExitError{Code: ExitUsage, Err: err}
		}
	}
	return err
}

// ExitCode maps an error returned by Run to a process exit code.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "recoflow",
		Short: "A product-recommendation data platform in one program",
		Long: `recoflow runs a product-recommendation data platform end to end:

  demo     run the whole pipeline on the embedded defaults (start here)
  seed     create the shop's database (classicmodels + ratings) in SQLite or MySQL
  etl      move ratings, customers and products into Parquet training data in a lake
  train    train the two-tower recommender and publish embeddings, weights and metrics
  vectors  load a model version's embeddings into the vector store (embedded or pgvector)
  serve    answer recommendation requests over HTTP (the lab's inference API, /v1, metrics)
  produce  publish simulated shopper activity (the lab's events) to an event stream
  stream   turn live shopper events into recommendations delivered to the lake

Every command reads its settings from flags, then RECOFLOW_<FLAG> environment
variables (RECOFLOW_LAKE, RECOFLOW_ON_BAD_ROWS, …), then the optional YAML file
given by --config (top-level keys, or a section named after the command).

Backends are chosen by URL:
  source  sqlite:///path/shop.db            mysql://user:pass@host:3306/classicmodels
  lake    file:///path/lake                 s3://bucket/prefix
  vectors file:///path/vectors              postgres://user:pass@host:5432/db (pgvector)

  bench    measure a stage against its reference (bench etl)`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.configure(cmd); err != nil {
				return err
			}
			return a.startProfile()
		},
		PersistentPostRunE: func(*cobra.Command, []string) error {
			return a.stopProfile()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "YAML config file (keys are flag names; a section per command overrides; unknown keys are an error)")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&a.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the command to this file (read it with go tool pprof)")

	root.AddCommand(
		a.demoCommand(),
		a.versionCommand(),
		a.docsCommand(),
		a.seedCommand(),
		a.etlCommand(),
		a.benchCommand(),
		a.trainCommand(),
		a.vectorsCommand(),
		a.streamCommand(),
		a.serveCommand(),
		a.produceCommand(),
		a.evaluateCommand(),
		a.specCommand(),
	)
	return root
}

// configure applies environment and config-file values to the flags the
// user did not set, then builds the logger.
func (a *app) configure(cmd *cobra.Command) error {
	// --config itself may come from the environment.
	if !cmd.Flags().Changed("config") {
		if v, ok := a.opts.Getenv("RECOFLOW_CONFIG"); ok {
			a.configFile = v
		}
	}
	file, err := loadConfigFile(a.configFile)
	if err == nil {
		err = file.validate(cmd.Root())
	}
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	var applyErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if applyErr != nil || f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		env := "RECOFLOW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := a.opts.Getenv(env); ok {
			if err := f.Value.Set(v); err != nil {
				applyErr = usageError("environment variable %s: %v", env, err)
			}
			return
		}
		if v, ok := file.lookup(cmd, f.Name); ok {
			if err := f.Value.Set(v.value); err != nil {
				applyErr = usageError("config file %s, line %d, key %q: %v", a.configFile, v.line, f.Name, err)
			}
		}
	})
	if applyErr != nil {
		return applyErr
	}
	log, err := newLogger(a.opts.Stderr, a.logFormat, a.logLevel)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	a.log = log
	return nil
}

func (a *app) startProfile() error {
	if a.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(a.cpuProfile)
	if err != nil {
		return usageError("--cpu-profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpu-profile: %w", err)
	}
	a.profileFile = f
	return nil
}

func (a *app) stopProfile() error {
	if a.profileFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := a.profileFile.Close()
	a.profileFile = nil
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}
