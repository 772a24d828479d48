package baseline

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/eval"
)

// groups: users 0..29 like items 0..9, users 30..59 like items 10..19
// (each rates 6 of its group's 10 items 5★); every user of the second group
// also rated one of items 0..2 at 2★, so those are the most popular items
// but relevant to nobody in the second group.
func groups() *eval.Data {
	r := rand.New(rand.NewPCG(1, 2))
	d := &eval.Data{NumUsers: 60, NumItems: 20}
	for u := range 60 {
		base := 0
		if u >= 30 {
			base = 10
			d.Interactions = append(d.Interactions, eval.Interaction{User: int32(u), Item: int32(u % 3), Rating: 2})
		}
		for _, j := range r.Perm(10)[:6] {
			d.Interactions = append(d.Interactions, eval.Interaction{User: int32(u), Item: int32(base + j), Rating: 5})
		}
	}
	return d
}

// methods are the baselines at their defaults, but ALS with a few factors:
// with 100 factors for 20 items it reproduces the training matrix exactly
// and ranks the rest by noise.
func methods() []eval.Method {
	return []eval.Method{ItemKNN{}, ALS{Factors: 4, Seed: 1}, BPR{Seed: 1}, EASE{}}
}

func TestBaselinesRankTheirGroupsItemsFirst(t *testing.T) {
	d := groups()
	for _, m := range methods() {
		t.Run(m.Name(), func(t *testing.T) {
			s, err := m.Fit(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			seen := make([]map[int32]bool, d.NumUsers)
			for _, x := range d.Interactions {
				if seen[x.User] == nil {
					seen[x.User] = map[int32]bool{}
				}
				seen[x.User][x.Item] = true
			}
			scores := make([]float64, d.NumItems)
			wrong := 0
			for u := range d.NumUsers {
				clear(scores)
				s.Score(int32(u), scores)
				best := int32(-1)
				for i := range scores {
					if !seen[u][int32(i)] && (best < 0 || scores[i] > scores[best]) {
						best = int32(i)
					}
				}
				if (u < 30) != (best < 10) {
					wrong++
				}
			}
			// The 2★ cross-group ratings are interactions to ALS and
			// kNN, so a user may be pulled across now and then.
			if wrong > 3 {
				t.Errorf("%d of 60 users get another group's item first, want at most 3", wrong)
			}
		})
	}
}

func TestBaselinesBeatPopularityOnGroups(t *testing.T) {
	rep, err := eval.Run(context.Background(), groups(), append([]eval.Method{eval.Popularity{}}, methods()...), eval.Options{K: 3, Seed: 1, TestFraction: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	pop := rep.Methods[0]
	for _, r := range rep.Methods[1:] {
		t.Logf("%-10s NDCG@3 %.3f  P@3 %.3f  (popularity %.3f, %.3f)", r.Method, r.NDCGAtK, r.PrecisionAtK, pop.NDCGAtK, pop.PrecisionAtK)
		if r.NDCGAtK < pop.NDCGAtK+0.2 {
			t.Errorf("%s: NDCG@3 %.3f, not clearly above popularity's %.3f", r.Method, r.NDCGAtK, pop.NDCGAtK)
		}
	}
	// Cold-start users have no history: every baseline falls back to
	// popularity and scores exactly as it does.
	for _, r := range rep.ColdStart[1:] {
		if r.NDCGAtK != rep.ColdStart[0].NDCGAtK {
			t.Errorf("cold start %s: NDCG %.4f, popularity %.4f", r.Method, r.NDCGAtK, rep.ColdStart[0].NDCGAtK)
		}
	}
}

func TestBaselinesAreDeterministic(t *testing.T) {
	d := groups()
	for _, m := range methods() {
		a, _ := m.Fit(context.Background(), d)
		b, _ := m.Fit(context.Background(), d)
		sa, sb := make([]float64, d.NumItems), make([]float64, d.NumItems)
		for u := range int32(d.NumUsers) {
			clear(sa)
			clear(sb)
			a.Score(u, sa)
			b.Score(u, sb)
			if !reflect.DeepEqual(sa, sb) {
				t.Fatalf("%s: user %d scored differently by two fits with one seed", m.Name(), u)
			}
		}
	}
}

func TestKNNScoresAreSumsOfCosines(t *testing.T) {
	// Items 0 and 1 share both their users; item 2 shares one of two.
	d := &eval.Data{NumUsers: 3, NumItems: 3, Interactions: []eval.Interaction{
		{User: 0, Item: 0}, {User: 0, Item: 1}, {User: 0, Item: 2},
		{User: 1, Item: 0}, {User: 1, Item: 1},
		{User: 2, Item: 2},
	}}
	s, err := ItemKNN{}.Fit(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 3)
	s.Score(2, got) // user 2 has item 2: scores are cos(2, i)
	// cos(0,2) = 1/(√2·√2) = 0.5, likewise cos(1,2).
	if math.Abs(got[0]-0.5) > 1e-12 || math.Abs(got[1]-0.5) > 1e-12 {
		t.Errorf("scores = %v, want [0.5 0.5 _]", got)
	}
	clear(got)
	s.Score(1, got) // user 1 has items 0, 1: score(2) = cos(0,2)+cos(1,2)
	if math.Abs(got[2]-1) > 1e-12 {
		t.Errorf("score of item 2 = %v, want 1", got[2])
	}
}

func TestColdUserGetsPopularity(t *testing.T) {
	d := groups()
	d.NumUsers++ // a user with no interactions
	for _, m := range methods() {
		s, _ := m.Fit(context.Background(), d)
		got := make([]float64, d.NumItems)
		s.Score(int32(d.NumUsers-1), got)
		want := popularity(d)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: cold user scores %v, want popularity %v", m.Name(), got, want)
		}
	}
}

func TestCoRatingNeighboursMatchABruteForceCount(t *testing.T) {
	// users' items; item 4 is rated by nobody
	rated := [][]int32{{0, 1, 2}, {0, 1}, {1, 3}, {2, 3, 5}, {0, 5}}
	const n, k = 6, 3
	itemUsers := make([][]int32, n)
	for u, items := range rated {
		for _, i := range items {
			itemUsers[i] = append(itemUsers[i], int32(u))
		}
	}
	nbr, sim, err := CoRatingNeighbours(context.Background(), n, k,
		func(i int) []int32 { return itemUsers[i] }, func(u int) []int32 { return rated[u] })
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		// brute force: every other item's cosine, best first, ties by index
		type c struct {
			j int32
			s float64
		}
		var all []c
		for j := range n {
			co := 0
			for _, items := range rated {
				if slices.Contains(items, int32(i)) && slices.Contains(items, int32(j)) {
					co++
				}
			}
			if j != i && co > 0 {
				all = append(all, c{int32(j), float64(co) / math.Sqrt(float64(len(itemUsers[i]))*float64(len(itemUsers[j])))})
			}
		}
		slices.SortStableFunc(all, func(a, b c) int { return cmp.Compare(b.s, a.s) })
		for r := range k {
			wantJ, wantS := int32(-1), 0.0
			if r < len(all) {
				wantJ, wantS = all[r].j, all[r].s
			}
			if nbr[i*k+r] != wantJ || sim[i*k+r] != wantS {
				t.Errorf("item %d, neighbour %d: %d (%v), want %d (%v)", i, r, nbr[i*k+r], sim[i*k+r], wantJ, wantS)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := CoRatingNeighbours(ctx, n, k, func(i int) []int32 { return itemUsers[i] }, func(u int) []int32 { return rated[u] }); err == nil {
		t.Error("a cancelled context: no error")
	}
}

// gaussJordanInverse inverts the n×n row-major a (assumed invertible) by
// Gauss–Jordan elimination with partial pivoting.
func gaussJordanInverse(a []float64, n int) []float64 {
	m := make([]float64, n*2*n)
	for i := range n {
		copy(m[i*2*n:], a[i*n:(i+1)*n])
		m[i*2*n+n+i] = 1
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r*2*n+c]) > math.Abs(m[p*2*n+c]) {
				p = r
			}
		}
		for k := range 2 * n {
			m[c*2*n+k], m[p*2*n+k] = m[p*2*n+k], m[c*2*n+k]
		}
		piv := m[c*2*n+c]
		for k := range 2 * n {
			m[c*2*n+k] /= piv
		}
		for r := range n {
			if r == c {
				continue
			}
			f := m[r*2*n+c]
			for k := range 2 * n {
				m[r*2*n+k] -= f * m[c*2*n+k]
			}
		}
	}
	inv := make([]float64, n*n)
	for i := range n {
		copy(inv[i*n:(i+1)*n], m[i*2*n+n:(i+1)*2*n])
	}
	return inv
}

func TestEASEMatchesTheClosedForm(t *testing.T) {
	// users' items; item 4 is rated by nobody
	rated := [][]int32{{0, 1, 2}, {0, 1}, {1, 3}, {2, 3, 5}, {0, 5}, {1, 2, 3, 5}}
	const n, lambda = 6, 0.7
	d := &eval.Data{NumUsers: len(rated) + 1, NumItems: n} // the last user has no items
	g := make([]float64, n*n)                              // XᵀX
	for u, items := range rated {
		for _, i := range items {
			d.Interactions = append(d.Interactions, eval.Interaction{User: int32(u), Item: i, Rating: 3})
			for _, j := range items {
				g[int(i)*n+int(j)]++
			}
		}
	}
	// Brute force: P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag(P)).
	a := append([]float64(nil), g...)
	for i := range n {
		a[i*n+i] += lambda
	}
	p := gaussJordanInverse(a, n)
	want := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if i != j {
				want[i*n+j] = -p[i*n+j] / p[j*n+j]
			}
		}
	}
	userItems := func(u int) []int32 { return rated[u] }
	b, err := EASEWeights(context.Background(), n, len(rated), lambda, userItems)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if math.Abs(b[k]-want[k]) > 1e-10 {
			t.Errorf("B[%d][%d] = %v, want %v", k/n, k%n, b[k], want[k])
		}
	}
	// B is the constrained optimum: with a zero diagonal, (XᵀX + λI)·B
	// equals XᵀX off the diagonal (the Lagrangian's stationarity).
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			s := 0.0
			for k := range n {
				s += a[i*n+k] * b[k*n+j]
			}
			if math.Abs(s-g[i*n+j]) > 1e-10 {
				t.Errorf("((XᵀX+λI)B)[%d][%d] = %v, want XᵀX's %v", i, j, s, g[i*n+j])
			}
		}
	}
	sc, err := EASE{Lambda: lambda}.Fit(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, n)
	for u, items := range rated {
		sc.Score(int32(u), got)
		for j := range n {
			w := 0.0
			for _, i := range items {
				w += want[int(i)*n+j]
			}
			if math.Abs(got[j]-w) > 1e-10 {
				t.Errorf("user %d, item %d: score %v, want x_u·B = %v", u, j, got[j], w)
			}
		}
	}
	sc.Score(int32(len(rated)), got)
	if !reflect.DeepEqual(got, popularity(d)) {
		t.Errorf("user without items: %v, want popularity %v", got, popularity(d))
	}
	if _, err := EASEWeights(context.Background(), n, len(rated), 0, userItems); err == nil || !strings.Contains(err.Error(), "lambda 0") {
		t.Errorf("lambda 0: error %v, want one naming it", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EASEWeights(ctx, n, len(rated), lambda, userItems); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: error %v", err)
	}
}

func TestEASEAboveMaxItemsIsSkippedNotFailed(t *testing.T) {
	d := groups() // 20 items
	_, err := EASE{MaxItems: 19}.Fit(context.Background(), d)
	if !errors.Is(err, eval.ErrSkipped) || !strings.Contains(err.Error(), "20 items") || !strings.Contains(err.Error(), "19") {
		t.Fatalf("20 items, MaxItems 19: error %v, want eval.ErrSkipped naming both", err)
	}
	if _, err := (EASE{MaxItems: 20}).Fit(context.Background(), d); err != nil {
		t.Fatalf("20 items, MaxItems 20: %v", err)
	}
	rep, err := eval.Run(context.Background(), d, []eval.Method{eval.Popularity{}, EASE{MaxItems: 19}, ItemKNN{}}, eval.Options{K: 3, Seed: 1})
	if err != nil {
		t.Fatalf("Run with a skipped method failed: %v", err)
	}
	var names, cold []string
	for _, r := range rep.Methods {
		names = append(names, r.Method)
	}
	for _, r := range rep.ColdStart {
		cold = append(cold, r.Method)
	}
	if want := []string{"popularity", "item-knn"}; !reflect.DeepEqual(names, want) || !reflect.DeepEqual(cold, want) {
		t.Errorf("methods %v, cold start %v; want %v in both", names, cold, want)
	}
	if len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "ease: skipped: ") || !strings.Contains(rep.Notes[0], "20 items") {
		t.Errorf("notes %q, want one saying ease was skipped for its 20 items", rep.Notes)
	}
}

// BenchmarkEASEFit3000 fits EASE at its default bound: 3,000 items, 5,000
// users with 50 random items each.
//
//	go test ./eval/baseline -run '^$' -bench EASEFit -benchtime 1x
func BenchmarkEASEFit3000(b *testing.B) {
	const users, items, per = 5000, DefaultEASEMaxItems, 50
	r := rand.New(rand.NewPCG(3, 4))
	d := &eval.Data{NumUsers: users, NumItems: items}
	for u := range users {
		for _, i := range r.Perm(items)[:per] {
			d.Interactions = append(d.Interactions, eval.Interaction{User: int32(u), Item: int32(i)})
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := (EASE{}).Fit(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}
