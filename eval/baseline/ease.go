package baseline

import (
	"context"
	"fmt"

	"github.com/recoflow/recoflow/eval"
	"gonum.org/v1/gonum/mat"
)

// Defaults of EASE.
const (
	// DefaultEASELambdaScale is EASE's default L2 regularisation λ
	// relative to the mean number of training interactions per item (the
	// mean diagonal of XᵀX), chosen by measurement on validation splits
	// of the sample and of generated data, whose best absolute λ differ
	// 20-fold but whose best scale agree (docs/EVALUATION.md).
	DefaultEASELambdaScale = 1
	// DefaultEASEMaxItems is the largest number of items EASE fits: its
	// fit inverts a dense items × items matrix, O(items³) time and
	// 3 × items² float64s of memory (3,000 items: a few seconds, 216 MB).
	DefaultEASEMaxItems = 3000
)

// EASE is Steck's "Embarrassingly Shallow Autoencoders for Sparse Data"
// (WWW 2019): an item-item linear model B with a zero diagonal that
// reconstructs the binary user × item matrix X, min ‖X − XB‖² + λ‖B‖²
// subject to diag(B) = 0, whose closed form is B = I − P·diag(1/diag(P))
// with P = (XᵀX + λI)⁻¹, that is B_ij = −P_ij / P_jj off the diagonal. A
// user's score for item j is x_u·B_{·j}, the sum of row i of B over the
// items i the user interacted with. Every training interaction is a 1 (as
// for ItemKNN); a user without training interactions is scored by
// popularity. B is dense, so the fit is bounded by MaxItems; above it Fit
// returns an error wrapping eval.ErrSkipped. Zero fields take the defaults.
type EASE struct {
	// Lambda is the L2 regularisation λ; 0 means LambdaScale times the
	// mean number of training interactions per item (EASELambda).
	Lambda float64
	// LambdaScale is λ relative to the mean number of training
	// interactions per item, when Lambda is 0 (default
	// DefaultEASELambdaScale).
	LambdaScale float64
	// MaxItems is the most items Fit accepts (default
	// DefaultEASEMaxItems; negative: no bound).
	MaxItems int
}

// Name returns "ease".
func (EASE) Name() string { return "ease" }

// Fit computes B on the training interactions.
func (m EASE) Fit(ctx context.Context, train *eval.Data) (eval.Scorer, error) {
	maxItems := m.MaxItems
	if maxItems == 0 {
		maxItems = DefaultEASEMaxItems
	}
	if maxItems > 0 && train.NumItems > maxItems {
		return nil, fmt.Errorf("%d items, above EASE's bound of %d (its fit inverts a dense items × items matrix, O(items³)): %w",
			train.NumItems, maxItems, eval.ErrSkipped)
	}
	userItems, _ := interactions(train, nil)
	lambda := m.Lambda
	if lambda <= 0 {
		lambda = EASELambda(m.LambdaScale, len(userItems.idx), train.NumItems)
	}
	b, err := EASEWeights(ctx, train.NumItems, train.NumUsers, lambda, userItems.row)
	if err != nil {
		return nil, err
	}
	return &easeScorer{n: train.NumItems, b: b, userItems: userItems, fallback: popularity(train)}, nil
}

// EASELambda returns EASE's λ for scale (0: DefaultEASELambdaScale) and
// pairs distinct (user, item) interactions over items items: scale times
// the mean number of interactions per item, at least scale.
func EASELambda(scale float64, pairs, items int) float64 {
	if scale <= 0 {
		scale = DefaultEASELambdaScale
	}
	if items == 0 {
		return scale
	}
	return scale * max(1, float64(pairs)/float64(items))
}

// EASEWeights returns EASE's item-item weights B (n × n, row-major: row i
// is what an interaction with item i adds to every item's score; the
// diagonal is 0) for the users 0..users-1 whose items userItems lists
// (each item once), with regularisation lambda > 0: B = I − P·diag(1/diag(P)),
// P = (XᵀX + λI)⁻¹ (Steck 2019). Time is the sum over users of their number
// of items squared plus O(n³); memory about 3n² float64s. It checks ctx
// between the steps and returns its error. The EASE baseline and the
// model's history blend (package model) share it.
func EASEWeights(ctx context.Context, n, users int, lambda float64, userItems func(int) []int32) ([]float64, error) {
	if !(lambda > 0) {
		return nil, fmt.Errorf("ease: lambda %v: want a positive number", lambda)
	}
	if n == 0 {
		return nil, nil
	}
	// The Gram matrix XᵀX + λI; SymDense reads its upper triangle.
	g := make([]float64, n*n)
	for u := range users {
		if u%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		items := userItems(u)
		for a, i := range items {
			row := g[int(i)*n:]
			for _, j := range items[a:] {
				if j >= i {
					row[j]++
				} else {
					g[int(j)*n+int(i)]++
				}
			}
		}
	}
	for i := range n {
		g[i*n+i] += lambda
	}
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(n, g)) {
		return nil, fmt.Errorf("ease: XᵀX + %gI of %d items is not positive definite", lambda, n)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var p mat.SymDense
	if err := ch.InverseTo(&p); err != nil {
		return nil, fmt.Errorf("ease: inverse of XᵀX + %gI: %w", lambda, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	raw := p.RawSymmetric() // upper triangle, row-major with raw.Stride
	at := func(i, j int) float64 {
		if i > j {
			i, j = j, i
		}
		return raw.Data[i*raw.Stride+j]
	}
	b := g // the Gram matrix is no longer needed: B overwrites it
	for i := range n {
		row := b[i*n : (i+1)*n]
		for j := range n {
			if i == j {
				row[j] = 0
			} else {
				row[j] = -at(i, j) / at(j, j)
			}
		}
	}
	return b, nil
}

// easeScorer scores by the sum of B's rows over the user's items, and by
// popularity for a user without training interactions.
type easeScorer struct {
	n         int
	b         []float64
	userItems *csr
	fallback  []float64
}

func (s *easeScorer) Score(u int32, dst []float64) {
	var items []int32
	if int(u) < len(s.userItems.ptr)-1 {
		items = s.userItems.row(int(u))
	}
	if len(items) == 0 {
		copy(dst, s.fallback)
		return
	}
	clear(dst)
	for _, i := range items {
		row := s.b[int(i)*s.n : (int(i)+1)*s.n]
		for j, w := range row {
			dst[j] += w
		}
	}
}
