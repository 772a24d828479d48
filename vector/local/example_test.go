package local_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/recoflow/recoflow/embedding"
	"github.com/recoflow/recoflow/vector"
	"github.com/recoflow/recoflow/vector/local"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vectors-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := local.Open(ctx, dir, local.Options{Dim: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	items := []embedding.Entry{
		{ID: "S10_1678", Vector: []float32{1, 0, 0}},
		{ID: "S10_1949", Vector: []float32{1, 1, 0}},
		{ID: "S10_2016", Vector: []float32{0, 0, 1}},
	}
	users := []embedding.Entry{{ID: "103", Vector: []float32{2, 1, 0}}}
	if _, err := st.Load(ctx, "v1", vector.FromSlice(items), vector.FromSlice(users)); err != nil {
		log.Fatal(err)
	}

	// Items for a user, most similar first.
	u, err := st.UserVector(ctx, "103")
	if err != nil {
		log.Fatal(err)
	}
	hits, err := st.SearchItems(ctx, u, 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Printf("%s score %.3f\n", h.ID, h.Similarity())
	}

	// Items like an item, the item itself excluded.
	v, _ := st.ItemVector(ctx, "S10_1678")
	hits, _ = st.SearchItems(ctx, v, 1, "S10_1678")
	fmt.Printf("like S10_1678: %s at distance %.3f\n", hits[0].ID, hits[0].Distance)
	// Output:
	// S10_1949 score 0.949
	// S10_1678 score 0.894
	// like S10_1678: S10_1949 at distance 0.293
}
