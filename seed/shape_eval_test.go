package seed

import (
	"context"
	"math"
	"testing"

	"github.com/recoflow/recoflow/eval"
	"github.com/recoflow/recoflow/eval/baseline"
)

// oracle scores with the generator's own knowledge: the log-probability
// that a customer rates a product (popularity and selection bias) plus the
// log-probability that the rating is at least 4. With latent false it knows
// only what features explain, the latent taste integrated out (the best a
// content-only model can do); with latent true it knows everything but the
// noise (what a model of ids and features can approach).
type oracle struct {
	g      *generator
	custs  []int // eval user → generator customer index
	latent bool
}

func (o oracle) Name() string {
	if o.latent {
		return "oracle-ids+features"
	}
	return "oracle-features"
}

func (o oracle) Fit(context.Context, *eval.Data) (eval.Scorer, error) { return o, nil }

func (o oracle) Score(user int32, dst []float64) {
	g := o.g
	i := o.custs[user]
	c, u := g.customer(i), g.customerLatent(i)
	sd := math.Hypot(0.35, 0.7) // per-customer bias and noise
	if !o.latent {
		sd = math.Hypot(sd, g.shape.LatentWeight)
	}
	for j := range g.products {
		p := &g.products[j]
		mu := rating(c.region, c.creditZ, p)
		if o.latent {
			mu = g.expected(&c, &u, p)
		}
		sel := p.logPop + g.shape.SelectionBias*mu
		pHigh := 0.5 * math.Erfc(-(mu-3.5)/(sd*math.Sqrt2))
		dst[j] = sel + math.Log(max(pHigh, 1e-300))
	}
}

// generatedEvalData generates a dataset and returns it as eval data (users
// are the customers with ratings, items the products in code order).
func generatedEvalData(t *testing.T, o GenOptions) (*generator, *eval.Data, []int) {
	t.Helper()
	o, err := o.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGenerator(o)
	if err != nil {
		t.Fatal(err)
	}
	byNumber := map[int64]int{}
	for i := range g.customers {
		byNumber[customerNumber(i, g.meta(i))] = i
	}
	byCode := map[string]int32{}
	for j, p := range g.products {
		byCode[p.code] = int32(j)
	}
	d := &eval.Data{NumItems: len(g.products)}
	userOf := map[int]int32{}
	var custs []int
	for row, err := range g.ratingRows {
		if err != nil {
			t.Fatal(err)
		}
		i := byNumber[row[0].(int64)]
		u, ok := userOf[i]
		if !ok {
			u = int32(len(custs))
			userOf[i] = u
			custs = append(custs, i)
		}
		d.Interactions = append(d.Interactions, eval.Interaction{User: u, Item: byCode[row[1].(string)], Rating: float32(row[2].(int64))})
	}
	d.NumUsers = len(custs)
	return g, d, custs
}

// TestGeneratedDataTellsModelsApart measures, on a generated dataset with the
// default Shape, what knowing the ids adds over knowing the features: the
// oracle that knows the latent tastes must clearly beat the one that knows
// only features, and both must beat popularity; without a Shape the latent
// oracle has nothing more to know.
func TestGeneratedDataTellsModelsApart(t *testing.T) {
	if testing.Short() {
		t.Skip("fits BPR on 20,000 ratings")
	}
	run := func(sh *Shape) map[string]eval.Result {
		g, d, custs := generatedEvalData(t, GenOptions{Ratings: 20_000, Seed: 3, Shape: sh})
		ms := []eval.Method{eval.Popularity{}, baseline.BPR{Seed: 1}, oracle{g, custs, false}, oracle{g, custs, true}}
		rep, err := eval.Run(context.Background(), d, ms, eval.Options{Seed: 1, ColdStartFraction: -1})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]eval.Result{}
		for _, r := range rep.Methods {
			out[r.Method] = r
			t.Logf("%-20s NDCG@10 %.4f  P@10 %.4f  (%d users)", r.Method, r.NDCGAtK, r.PrecisionAtK, r.Users)
		}
		return out
	}
	def := DefaultShape()
	r := run(&def)
	pop, feat, full := r["popularity"].NDCGAtK, r["oracle-features"].NDCGAtK, r["oracle-ids+features"].NDCGAtK
	if full < 1.2*feat || full < 1.2*pop {
		t.Errorf("default shape: the ids+features oracle (NDCG %.4f) is not 1.2× the features-only oracle (%.4f) and popularity (%.4f)", full, feat, pop)
	}
	if feat <= pop {
		t.Errorf("default shape: features (NDCG %.4f) do not beat popularity (%.4f)", feat, pop)
	}

	r = run(&Shape{})
	if feat, full := r["oracle-features"].NDCGAtK, r["oracle-ids+features"].NDCGAtK; math.Abs(full-feat) > 1e-9 {
		t.Errorf("no shape: the oracles differ (%.4f vs %.4f) though there is no latent taste", full, feat)
	}
}
