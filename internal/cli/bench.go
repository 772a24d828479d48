package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/spf13/cobra"
)

func (a *app) benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure recoflow against the reference each target names, in the same run",
	}
	cmd.AddCommand(a.benchETLCommand())
	cmd.AddCommand(a.benchStreamCommand())
	cmd.AddCommand(a.benchVectorsCommand())
	return cmd
}

// measurement is one timed run of a command.
type measurement struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

func (a *app) benchETLCommand() *cobra.Command {
	var (
		sourceURL string
		lakeDir   string
		runs      int
		mysqlBin  string
	)
	cmd := &cobra.Command{
		Use:   "etl",
		Short: "Time the ETL against the source database returning the same join to its own client",
		Long: `bench etl times, on the same source and machine, alternately:

  reference  mysql -B -e '<the ETL's join>' > /dev/null   (the database returning the join to a client)
  recoflow   recoflow etl --source … --lake <temp dir>    (a child process, so its peak memory is its own)

and prints the median wall time of each, their ratio (target ≤ 1.5) and the
ETL's peak resident memory. The reference needs a mysql:// source and the
mysql (or mariadb) client on PATH. Seed a large source first, e.g.

  recoflow seed --source mysql://root@127.0.0.1:3306/bench1m --dataset generated --ratings 1000000
  recoflow bench etl --source mysql://root@127.0.0.1:3306/bench1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runs < 1 {
				return usageError("--runs %d: want at least 1", runs)
			}
			ctx := cmd.Context()
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find own executable: %w", err)
			}
			if lakeDir == "" {
				lakeDir, err = os.MkdirTemp("", "recoflow-bench-lake-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(lakeDir)
			}
			u, err := url.Parse(sourceURL)
			isMySQL := err == nil && (u.Scheme == "mysql" || u.Scheme == "mariadb")
			var refs, etls []measurement
			for i := 0; i < runs; i++ {
				if isMySQL {
					m, err := runMySQLReference(ctx, mysqlBin, u)
					if err != nil {
						return err
					}
					refs = append(refs, m)
					a.log.Info("bench reference run", "run", i+1, "wall", m.wall.Round(time.Millisecond).String())
				}
				m, err := runMeasured(exec.CommandContext(ctx, exe, "etl", "--source", sourceURL, "--lake", lakeDir, "--progress-interval", "1h", "--log-level", "warn"))
				if err != nil {
					return fmt.Errorf("recoflow etl: %w", err)
				}
				etls = append(etls, m)
				a.log.Info("bench etl run", "run", i+1, "wall", m.wall.Round(time.Millisecond).String(), "max_rss_mib", m.maxRSS>>20)
			}
			return printETLBench(a.opts.Stdout, connect.Redact(sourceURL), refs, etls)
		},
	}
	f := cmd.Flags()
	f.StringVar(&sourceURL, "source", defaultSource, "source database URL (mysql:// for the reference timing)")
	f.StringVar(&lakeDir, "lake-dir", "", "directory for the ETL's lake (default: a temporary directory, removed after)")
	f.IntVar(&runs, "runs", 3, "runs of each command; medians are reported")
	f.StringVar(&mysqlBin, "mysql", "mysql", "the MySQL/MariaDB command-line client")
	return cmd
}

// runMySQLReference runs the ETL's join through the mysql client, output
// discarded. The password travels in MYSQL_PWD, never on the command line.
func runMySQLReference(ctx context.Context, bin string, u *url.URL) (measurement, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "3306"
	}
	args := []string{"-B", "-h", host, "-P", port, "-D", strings.TrimPrefix(u.Path, "/"), "-e", etl.JoinQuery()}
	if u.User != nil && u.User.Username() != "" {
		args = append(args, "-u", u.User.Username())
	}
	env := os.Environ()
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "MYSQL_PWD="+pw)
		}
	}
	c := exec.CommandContext(ctx, bin, args...)
	c.Env = env
	m, err := runMeasured(c)
	if err != nil {
		return m, fmt.Errorf("reference %s -B -e '<join>': %w", bin, err)
	}
	return m, nil
}

// runMeasured runs c with stdout discarded and returns its wall time and
// peak memory. Stderr is kept for the error message.
func runMeasured(c *exec.Cmd) (measurement, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return measurement{}, err
	}
	defer devnull.Close()
	c.Stdout = devnull
	var stderr strings.Builder
	c.Stderr = &stderr
	start := time.Now()
	err = c.Run()
	wall := time.Since(start)
	if err != nil {
		return measurement{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	var rss int64
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return measurement{wall: wall, maxRSS: rss}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func median(ms []measurement) measurement {
	s := append([]measurement(nil), ms...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	return s[len(s)/2]
}

func printETLBench(w io.Writer, source string, refs, etls []measurement) error {
	e := median(etls)
	var peak int64
	for _, m := range etls {
		peak = max(peak, m.maxRSS)
	}
	fmt.Fprintf(w, "bench etl on %s (%d runs each, medians)\n", source, len(etls))
	if len(refs) > 0 {
		r := median(refs)
		fmt.Fprintf(w, "  reference mysql -B -e '<join>' > /dev/null  %8.3f s\n", r.wall.Seconds())
		fmt.Fprintf(w, "  recoflow etl                                %8.3f s\n", e.wall.Seconds())
		fmt.Fprintf(w, "  ratio etl / reference                       %8.2f   (target ≤ 1.5)\n", e.wall.Seconds()/r.wall.Seconds())
	} else {
		fmt.Fprintf(w, "  recoflow etl                                %8.3f s (no mysql:// source, no reference)\n", e.wall.Seconds())
	}
	_, err := fmt.Fprintf(w, "  etl peak resident memory                    %8.1f MiB\n", float64(peak)/(1<<20))
	return err
}
