package cli

import (
	"fmt"
	"time"
)

// progressPrinter shows the progress of long work: a line redrawn in place on
// a terminal, structured log lines otherwise.
type progressPrinter struct {
	a     *app
	stage string
	unit  string
	drawn bool
}

func newProgressPrinter(a *app, stage, unit string) *progressPrinter {
	return &progressPrinter{a: a, stage: stage, unit: unit}
}

// update reports done of total units (total 0: unknown) after elapsed.
func (p *progressPrinter) update(done, total int64, elapsed time.Duration) {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	var eta time.Duration
	if total > 0 && rate > 0 && done < total {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second))
	}
	if p.a.opts.IsTerminal {
		line := fmt.Sprintf("%s: %d %s, %.0f %s/s", p.stage, done, p.unit, rate, p.unit)
		if total > 0 {
			line = fmt.Sprintf("%s: %d/%d %s (%.0f%%), %.0f %s/s, ETA %s", p.stage, done, total, p.unit,
				100*float64(done)/float64(total), rate, p.unit, eta.Round(time.Second))
		}
		fmt.Fprintf(p.a.opts.Stderr, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	args := []any{"stage", p.stage, p.unit, done, "rate", fmt.Sprintf("%.0f/s", rate), "elapsed", elapsed.Round(time.Millisecond).String()}
	if total > 0 {
		args = append(args, "total", total, "eta", eta.Round(time.Second).String())
	}
	p.a.log.Info("progress", args...)
}

// done ends the in-place line, if one was drawn.
func (p *progressPrinter) done() {
	if p.drawn {
		fmt.Fprintln(p.a.opts.Stderr)
		p.drawn = false
	}
}
