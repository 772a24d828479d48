package etl_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/etl"
	"github.com/recoflow/recoflow/internal/connect"
	"github.com/recoflow/recoflow/lake"
)

const (
	helperSourceEnv = "RECOFLOW_TEST_ETL_HELPER_SOURCE"
	helperLakeEnv   = "RECOFLOW_TEST_ETL_HELPER_LAKE"
)

// TestMain runs the ETL as a helper process when TestTwoProcesses asks for
// one, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(helperSourceEnv) != "" {
		etlHelperProcess()
	}
	os.Exit(m.Run())
}

// etlHelperProcess is the second process of TestTwoProcesses: it runs the
// ETL, says "staged <run id>" once the run is staged, and commits when its
// standard input closes.
func etlHelperProcess() {
	src, lakeURL := os.Getenv(helperSourceEnv), os.Getenv(helperLakeEnv)
	ctx := context.Background()
	fail := func(err error) { fmt.Println("error:", err); os.Exit(1) }
	db, err := connect.Source(ctx, src, connect.SourceOptions{})
	if err != nil {
		fail(err)
	}
	b, err := connect.Lake(ctx, lakeURL, connect.LakeOptions{})
	if err != nil {
		fail(err)
	}
	runID := etl.NewRunID(time.Now())
	_, err = etl.Run(ctx, db, b, etl.Options{RunID: runID, AfterStage: func(context.Context) error {
		fmt.Println("staged", runID)
		io.Copy(io.Discard, os.Stdin)
		return nil
	}})
	if err != nil {
		fail(err)
	}
	fmt.Println("committed", runID)
	os.Exit(0)
}

// TestTwoProcesses: a run in another process holds the lake; a run here
// fails naming that process's run and pid, touches nothing, and the other
// process then commits a complete dataset.
func TestTwoProcesses(t *testing.T) {
	for _, lk := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "lake") }},
		{"s3", s3URL},
	} {
		t.Run(lk.name, func(t *testing.T) {
			ctx := context.Background()
			srcPath := filepath.Join(t.TempDir(), "shop.db")
			db, err := connect.Source(ctx, "sqlite://"+srcPath, connect.SourceOptions{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			seedClassic(t, db)
			lakeURL := lk.url(t)
			b, err := connect.Lake(ctx, lakeURL, connect.LakeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()

			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperSourceEnv+"=sqlite://"+srcPath, helperLakeEnv+"="+lakeURL)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			out := bufio.NewReader(stdout)
			line, err := out.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "staged ") {
				t.Fatalf("helper said %q (%v), want staged <run id>", line, err)
			}
			childRun := strings.TrimSpace(strings.TrimPrefix(line, "staged "))

			_, err = etl.Run(ctx, db, b, etl.Options{})
			if !errors.Is(err, etl.ErrBusy) {
				t.Fatalf("run beside another process's run: %v, want ErrBusy", err)
			}
			for _, want := range []string{"recoflow etl run " + childRun, fmt.Sprintf("pid %d", cmd.Process.Pid)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			stdin.Close()
			line, _ = out.ReadString('\n')
			if err := cmd.Wait(); err != nil || strings.TrimSpace(line) != "committed "+childRun {
				t.Fatalf("helper: %v, said %q", err, line)
			}
			got, m := readDataset(t, b)
			if m.RunID != childRun || len(got) != 2532 {
				t.Fatalf("committed run %s with %d rows, want the helper's %s with 2532", m.RunID, len(got), childRun)
			}
			assertNoStagedRunsBut(t, b, childRun)
		})
	}
}

// s3URL returns a lake URL for a fresh prefix of the test bucket, removed
// when the test ends.
func s3URL(t *testing.T) string {
	t.Helper()
	u := testS3Prefix(t)
	b, err := connect.Lake(context.Background(), u, connect.LakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emptyBucket(b); b.Close() })
	return u
}

func emptyBucket(b lake.Bucket) {
	ctx := context.Background()
	var keys []string
	b.List(ctx, "", func(k string) error { keys = append(keys, k); return nil })
	for _, k := range keys {
		b.Delete(ctx, k)
	}
}
