package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/lake"
)

const leaseHelperEnv = "RECOFLOW_TEST_LEASE_HELPER_DIR"

// TestMain runs leaseHelperProcess when TestLeaseAcrossProcesses asks for
// it, and the tests otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(leaseHelperEnv); dir != "" {
		leaseHelperProcess(dir)
	}
	os.Exit(m.Run())
}

// leaseHelperProcess is the second process of TestLeaseAcrossProcesses: it
// takes a lease and holds it until its standard input closes.
func leaseHelperProcess(dir string) {
	b, err := Open(dir)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	l, err := b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "child process"}, time.Minute)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
	l.Release(ctx)
	os.Exit(0)
}

// TestLeaseAcrossProcesses: a lease held by another process excludes this
// one, the error names that process, and the lease is free again as soon
// as the process dies, however it dies.
func TestLeaseAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), leaseHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("helper said %q (%v), want held", line, err)
	}
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Lease(t.Context(), "dataset", lake.LeaseHolder{Owner: "parent"}, time.Minute)
	var held *lake.LeaseHeldError
	if !errors.As(err, &held) {
		t.Fatalf("Lease while another process holds it: %v, want a LeaseHeldError", err)
	}
	if held.Holder.PID != cmd.Process.Pid || held.Holder.Owner != "child process" {
		t.Errorf("error names %+v, want child process with pid %d", held.Holder, cmd.Process.Pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("child process (host %s, pid %d", held.Holder.Host, cmd.Process.Pid)) {
		t.Errorf("error %q does not name the holder", err)
	}
	// SIGKILL: no clean-up code runs in the child.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := b.Lease(t.Context(), "dataset", lake.LeaseHolder{Owner: "parent"}, time.Minute)
	if err != nil {
		t.Fatalf("Lease after the holder was killed: %v", err)
	}
	l.Release(t.Context())
}
