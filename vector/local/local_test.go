package local

import (
	"context"
	"testing"

	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/vectortest"
)

func TestAcceptanceExact(t *testing.T) {
	vectortest.Run(t, vectortest.Harness{
		Open: func(t *testing.T) vector.Store {
			st, err := Open(context.Background(), t.TempDir(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Reopen: func(t *testing.T, st vector.Store) vector.Store {
			dir := st.(*Store).dir
			st.Close()
			st2, err := Open(context.Background(), dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st2
		},
	})
}

// TestAcceptanceGraph runs the suite with the HNSW graph on every version,
// however small.
func TestAcceptanceGraph(t *testing.T) {
	opts := Options{ExactThreshold: 1, BuildWorkers: 2}
	vectortest.Run(t, vectortest.Harness{
		Open: func(t *testing.T) vector.Store {
			st, err := Open(context.Background(), t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Reopen: func(t *testing.T, st vector.Store) vector.Store {
			dir := st.(*Store).dir
			st.Close()
			st2, err := Open(context.Background(), dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			return st2
		},
		MinRecall: 0.98,
	})
}
