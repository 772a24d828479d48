// Command recoflow runs the recoflow recommendation platform. See
// `recoflow --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/recoflow/recoflow/internal/cli"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], cli.Options{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		IsTerminal: term.IsTerminal(int(os.Stderr.Fd())),
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "recoflow:", err)
		os.Exit(cli.ExitCode(err))
	}
}
