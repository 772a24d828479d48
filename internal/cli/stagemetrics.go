package cli

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// registerETLMetrics exposes the committed training dataset's figures,
// read from its manifest at each scrape: rows, rejected rows, partitions,
// bytes, the run's duration and when it finished.
func registerETLMetrics(reg prometheus.Registerer, b lake.BucketReader) {
	manifest := func() *training.Manifest {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		loc, err := training.Location(ctx, b)
		if err != nil {
			return nil
		}
		m, err := training.ReadManifest(ctx, b, loc)
		if err != nil {
			return nil
		}
		return m
	}
	gauge := func(name, help string, f func(*training.Manifest) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if m := manifest(); m != nil {
				return f(m)
			}
			return 0
		})
	}
	reg.MustRegister(
		gauge("recoflow_etl_rows", "Rows in the committed training dataset.", func(m *training.Manifest) float64 { return float64(m.Rows) }),
		gauge("recoflow_etl_rejected_rows", "Rows the last committed ETL run kept out, with a reason in its rejects file.", func(m *training.Manifest) float64 { return float64(m.Rejected) }),
		gauge("recoflow_etl_partitions", "customerNumber partitions in the committed training dataset.", func(m *training.Manifest) float64 { return float64(len(m.Partitions)) }),
		gauge("recoflow_etl_bytes", "Parquet bytes in the committed training dataset.", func(m *training.Manifest) float64 { return float64(m.Bytes) }),
		gauge("recoflow_etl_duration_seconds", "Duration of the last committed ETL run.", func(m *training.Manifest) float64 { return m.FinishedAt.Sub(m.StartedAt).Seconds() }),
		gauge("recoflow_etl_last_commit_timestamp_seconds", "When the last committed ETL run finished (Unix time).", func(m *training.Manifest) float64 { return float64(m.FinishedAt.Unix()) }),
	)
}
