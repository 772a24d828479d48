package model

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// Config tunes training. The zero value of a field means its default (see
// DefaultConfig), except Seed, for which 0 is a seed like any other.
type Config struct {
	// Dim is the embedding dimension (32).
	Dim int `json:"dim"`
	// Hidden is the width of each tower's ReLU layer (64).
	Hidden int `json:"hidden"`
	// Epochs is the most passes over the training split (30).
	Epochs int `json:"epochs"`
	// Patience stops training after this many epochs without a better
	// validation loss (5); negative means never stop early.
	Patience int `json:"patience"`
	// BatchSize is the number of ratings per Adam step. 0 chooses by the
	// size of the training set: the largest of 256, 512 and 1024 that still
	// makes at least 700 steps per epoch (256 for fewer than 358,400
	// training ratings). Bigger batches share more of each step's work
	// between the ratings of one user or item.
	BatchSize int `json:"batch_size"`
	// LearningRate is Adam's step size. 0 means 0.003·√(BatchSize/256),
	// the square-root rule for Adam: 0.003 for 256, 0.006 for 1024.
	LearningRate float64 `json:"learning_rate"`
	// WeightDecay is the decoupled (AdamW) decay of the weights, not the
	// biases, per step, relative to the learning rate (0.0001). Negative
	// means none.
	WeightDecay float64 `json:"weight_decay"`
	// ValidationFraction of the ratings choose the best epoch (0.1).
	ValidationFraction float64 `json:"validation_fraction"`
	// HoldoutFraction of the ratings are kept out of training and model
	// selection and give the reported metrics (0.1).
	HoldoutFraction float64 `json:"holdout_fraction"`
	// Seed fixes the split, the initial weights and the batch order.
	Seed uint64 `json:"seed"`
	// Workers is the number of goroutines (runtime.GOMAXPROCS), at most
	// 4 of which are used (one per shard). It changes the speed, never the
	// result.
	Workers int `json:"workers"`
	// Progress, if set, is called after each epoch.
	Progress func(EpochStats) `json:"-"`
}

// DefaultConfig returns the defaults every zero field of a Config takes.
func DefaultConfig() Config {
	return Config{
		Dim:                32,
		Hidden:             64,
		Epochs:             30,
		Patience:           5,
		WeightDecay:        1e-4,
		ValidationFraction: 0.1,
		HoldoutFraction:    0.1,
		Workers:            runtime.GOMAXPROCS(0),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setF := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.Dim, d.Dim)
	set(&c.Hidden, d.Hidden)
	set(&c.Epochs, d.Epochs)
	set(&c.Patience, d.Patience)
	set(&c.Workers, d.Workers)
	setF(&c.WeightDecay, d.WeightDecay)
	setF(&c.ValidationFraction, d.ValidationFraction)
	setF(&c.HoldoutFraction, d.HoldoutFraction)
	if c.WeightDecay < 0 {
		c.WeightDecay = 0
	}
	return c
}

// Validate reports whether c, with its defaults applied, can be trained
// with, and if not, which field is wrong.
func (c Config) Validate() error { return c.withDefaults().validate() }

func (c Config) validate() error {
	switch {
	case c.Dim < 1 || c.Dim > 4096:
		return fmt.Errorf("embedding dimension %d: want 1 to 4096", c.Dim)
	case c.Hidden < 1 || c.Hidden > 4096:
		return fmt.Errorf("hidden width %d: want 1 to 4096", c.Hidden)
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d: want at least 1", c.Epochs)
	case c.BatchSize < 0:
		return fmt.Errorf("batch size %d: want at least 1 (0: automatic)", c.BatchSize)
	case !(c.LearningRate >= 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("learning rate %v: want a positive number (0: automatic)", c.LearningRate)
	case !isFinite(c.WeightDecay):
		return fmt.Errorf("weight decay %v: want a finite number", c.WeightDecay)
	case !(c.ValidationFraction > 0) || !(c.HoldoutFraction > 0) || !(c.ValidationFraction+c.HoldoutFraction < 1):
		return fmt.Errorf("validation fraction %v and hold-out fraction %v: want both above 0 and their sum below 1", c.ValidationFraction, c.HoldoutFraction)
	case c.Workers < 1:
		return fmt.Errorf("workers %d: want at least 1", c.Workers)
	}
	return nil
}

// resolve sets the automatic batch size and learning rate for a training
// set of n ratings.
func (c Config) resolve(n int) Config {
	if c.BatchSize == 0 {
		c.BatchSize = 256
		for c.BatchSize < 1024 && n/(2*c.BatchSize) >= 700 {
			c.BatchSize *= 2
		}
	}
	if c.LearningRate == 0 {
		c.LearningRate = 0.003 * math.Sqrt(float64(c.BatchSize)/256)
	}
	return c
}

// shards is the fixed number of pieces each step is cut into. Gradients are
// summed per shard, then shard by shard in order, so the result depends on
// this constant, never on how many goroutines ran the shards.
const shards = 4

// minRatings is the smallest dataset that splits into non-empty training,
// validation and hold-out sets.
const minRatings = 3

// Split labels.
const (
	splitTrain uint8 = iota
	splitValidation
	splitHoldout
)

// Result is a trained model with its evaluation, ready to Save.
type Result struct {
	Model   *Model
	Metrics *Metrics
	data    *Dataset
}

// Train fits the encoders on the training split of d and trains both towers
// (see the package documentation), keeping the epoch with the lowest
// validation loss. It is deterministic: the same data (in any order) and the
// same Config other than Workers and Progress give the same model, bit for
// bit. It blocks until training ends, checking ctx between mini-batches.
// It returns an error, and no model, for a dataset too small to split, a
// bad Config, a cancelled ctx, or a training run whose loss stops being a
// number.
func Train(ctx context.Context, d *Dataset, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := d.check(minRatings); err != nil {
		return nil, err
	}
	start := time.Now()
	d.sort()
	t := newTrainer(d, cfg)
	if err := t.run(ctx); err != nil {
		return nil, err
	}
	met := t.evaluate()
	met.TrainingSeconds = time.Since(start).Seconds()
	if met.TrainingSeconds > 0 {
		met.RatingsPerSecond = float64(t.seen) / met.TrainingSeconds
	}
	m := &Model{
		dim:     cfg.Dim,
		userEnc: t.userEnc,
		itemEnc: t.itemEnc,
		user:    t.user.clone(),
		item:    t.item.clone(),
	}
	return &Result{Model: m, Metrics: met, data: d}, nil
}

// trainer holds everything one training run needs.
type trainer struct {
	cfg     Config
	d       *Dataset
	split   []uint8 // per rating
	train   []int32 // rating indices of each split, ascending
	val     []int32
	hold    []int32
	userEnc *encoder
	itemEnc *encoder
	ux, ix  []input // encoded users and items

	params     []float64 // user tower, then item tower
	user, item *tower
	grad       [shards][]float64
	gUser      [shards]*tower
	gItem      [shards]*tower
	m, v       []float64 // Adam moments
	decay      []bool    // which parameters are weights
	b1t, b2t   float64   // β1ᵗ, β2ᵗ

	// per-batch buffers
	batchNo        int32
	stampU, stampI []int32 // per entity: batch it was last seen in
	slotOfU        []int32 // per entity: its slot in the batch
	slotOfI        []int32
	uniqU, uniqI   []int32 // per slot: entity
	posU, posI     []int32 // per batch position: slot
	startU, startI []int32 // per slot: start in listU
	listU, listI   []int32 // batch positions grouped by slot, ascending
	hU, eU, hI, eI []float64
	gEU, gEI       []float64 // per position: gradient w.r.t. the embeddings
	target         []float64 // per position
	scratchH       [shards][]float64
	scratchE       [shards][]float64
	shardLoss      [shards]float64
	nU, nI         int

	seen   int // ratings processed, for throughput
	epochs []EpochStats
}

func newTrainer(d *Dataset, cfg Config) *trainer {
	t := &trainer{cfg: cfg, d: d}
	t.splitRatings()
	t.cfg = cfg.resolve(len(t.train))
	cfg = t.cfg

	// Encoders are fitted on the training rows only.
	wU := make([]int, len(d.users))
	wI := make([]int, len(d.items))
	for _, r := range t.train {
		wU[d.ratings[r].user]++
		wI[d.ratings[r].item]++
	}
	ucats := make([][]string, len(d.users))
	unums := make([][]float64, len(d.users))
	for k, f := range d.users {
		ucats[k], unums[k] = f.categorical(), f.numeric()
	}
	icats := make([][]string, len(d.items))
	inums := make([][]float64, len(d.items))
	for k, f := range d.items {
		icats[k], inums[k] = f.categorical(), f.numeric()
	}
	t.userEnc = fitEncoder("user", userCategorical, userNumeric, ucats, unums, wU)
	t.itemEnc = fitEncoder("item", itemCategorical, itemNumeric, icats, inums, wI)
	t.ux = make([]input, len(d.users))
	for k := range d.users {
		t.ux[k] = t.userEnc.encode(ucats[k], unums[k])
	}
	t.ix = make([]input, len(d.items))
	for k := range d.items {
		t.ix[k] = t.itemEnc.encode(icats[k], inums[k])
	}

	H, D := cfg.Hidden, cfg.Dim
	nu := towerSize(t.userEnc.width, H, D)
	ni := towerSize(t.itemEnc.width, H, D)
	t.params = make([]float64, nu+ni)
	t.user = newTower(t.userEnc.width, H, D, t.params[:nu])
	t.item = newTower(t.itemEnc.width, H, D, t.params[nu:])
	r := newRNG(cfg.Seed, streamInit)
	t.user.initialize(r, len(userCategorical)+len(userNumeric))
	t.item.initialize(r, len(itemCategorical)+len(itemNumeric))
	for s := range shards {
		t.grad[s] = make([]float64, len(t.params))
		t.gUser[s] = newTower(t.userEnc.width, H, D, t.grad[s][:nu])
		t.gItem[s] = newTower(t.itemEnc.width, H, D, t.grad[s][nu:])
		t.scratchH[s] = make([]float64, H)
		t.scratchE[s] = make([]float64, D)
	}
	t.m = make([]float64, len(t.params))
	t.v = make([]float64, len(t.params))
	t.decay = make([]bool, len(t.params))
	markWeights(t.decay[:nu], t.userEnc.width, H, D)
	markWeights(t.decay[nu:], t.itemEnc.width, H, D)
	t.b1t, t.b2t = 1, 1

	B := min(cfg.BatchSize, len(t.train))
	t.stampU = fill(make([]int32, len(d.users)), -1)
	t.stampI = fill(make([]int32, len(d.items)), -1)
	t.slotOfU = make([]int32, len(d.users))
	t.slotOfI = make([]int32, len(d.items))
	t.uniqU, t.uniqI = make([]int32, B), make([]int32, B)
	t.posU, t.posI = make([]int32, B), make([]int32, B)
	t.startU, t.startI = make([]int32, B+1), make([]int32, B+1)
	t.listU, t.listI = make([]int32, B), make([]int32, B)
	t.hU, t.eU = make([]float64, B*H), make([]float64, B*D)
	t.hI, t.eI = make([]float64, B*H), make([]float64, B*D)
	t.gEU, t.gEI = make([]float64, B*D), make([]float64, B*D)
	t.target = make([]float64, B)
	return t
}

// RNG streams: one per purpose, so that changing one use of randomness
// leaves the others as they were.
const (
	streamSplit uint64 = 1 + iota
	streamInit
	streamEpoch // + epoch number
)

func fill(s []int32, v int32) []int32 {
	for i := range s {
		s[i] = v
	}
	return s
}

// markWeights flags the weight matrices (not the biases) of a tower laid
// out as in newTower.
func markWeights(mask []bool, in, hidden, out int) {
	o := 0
	for i := range in * hidden {
		mask[o+i] = true
	}
	o += in*hidden + hidden
	for i := range hidden * out {
		mask[o+i] = true
	}
}

// splitRatings draws the validation and hold-out ratings with the seed.
func (t *trainer) splitRatings() {
	n := len(t.d.ratings)
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	newRNG(t.cfg.Seed, streamSplit).shuffle(perm)
	nHold := max(1, int(math.Round(float64(n)*t.cfg.HoldoutFraction)))
	nVal := max(1, int(math.Round(float64(n)*t.cfg.ValidationFraction)))
	if nHold+nVal >= n { // tiny datasets: keep one rating for training
		nHold, nVal = 1, 1
	}
	t.split = make([]uint8, n)
	for _, r := range perm[:nHold] {
		t.split[r] = splitHoldout
	}
	for _, r := range perm[nHold : nHold+nVal] {
		t.split[r] = splitValidation
	}
	for r, s := range t.split {
		switch s {
		case splitTrain:
			t.train = append(t.train, int32(r))
		case splitValidation:
			t.val = append(t.val, int32(r))
		default:
			t.hold = append(t.hold, int32(r))
		}
	}
}

// parallel runs f for every shard on the trainer's workers and waits.
func (t *trainer) parallel(f func(s int)) {
	w := min(t.cfg.Workers, shards)
	if w <= 1 {
		for s := range shards {
			f(s)
		}
		return
	}
	var wg sync.WaitGroup
	for g := range w {
		wg.Go(func() {
			for s := g; s < shards; s += w {
				f(s)
			}
		})
	}
	wg.Wait()
}

// span returns shard s's part [lo, hi) of n things.
func span(n, s int) (int, int) { return n * s / shards, n * (s + 1) / shards }

// run trains epoch by epoch and leaves the best epoch's parameters in
// t.params.
func (t *trainer) run(ctx context.Context) error {
	best := math.Inf(1)
	bestParams := make([]float64, len(t.params))
	order := make([]int32, len(t.train))
	since := 0
	var epochs []EpochStats
	for epoch := 1; epoch <= t.cfg.Epochs; epoch++ {
		start := time.Now()
		copy(order, t.train)
		newRNG(t.cfg.Seed, streamEpoch+uint64(epoch)).shuffle(order)
		for b := 0; b < len(order); b += t.cfg.BatchSize {
			if (b/t.cfg.BatchSize)%32 == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("train: %w", err)
				}
			}
			t.gradients(order[b:min(b+t.cfg.BatchSize, len(order))])
			t.adamStep()
		}
		t.seen += len(order)
		ue, ie := t.embedAll()
		st := EpochStats{
			Epoch:          epoch,
			TrainLoss:      t.loss(t.train, ue, ie),
			ValidationLoss: t.loss(t.val, ue, ie),
			Seconds:        time.Since(start).Seconds(),
		}
		st.TrainRMSE = 2 * math.Sqrt(st.TrainLoss)
		st.ValidationRMSE = 2 * math.Sqrt(st.ValidationLoss)
		if !isFinite(st.TrainLoss) || !isFinite(st.ValidationLoss) {
			return fmt.Errorf("train: the loss is not a number at epoch %d (training %v, validation %v): lower the learning rate", epoch, st.TrainLoss, st.ValidationLoss)
		}
		if st.ValidationLoss < best {
			best = st.ValidationLoss
			copy(bestParams, t.params)
			st.Best = true
			since = 0
		} else {
			since++
		}
		epochs = append(epochs, st)
		if t.cfg.Progress != nil {
			t.cfg.Progress(st)
		}
		if t.cfg.Patience > 0 && since >= t.cfg.Patience {
			break
		}
	}
	copy(t.params, bestParams)
	t.epochs = epochs
	return nil
}

// gradients computes, into the shards' gradient buffers, the gradient of
// the loss on the ratings idx (a mini-batch), and returns that loss: the
// mean over idx of (cos(u, i) - (rating-3)/2)².
//
// Each distinct user and item of the batch goes through its tower once: the
// gradients of its ratings are summed (in batch order) before the backward
// pass, which is exact because the backward pass is linear in them.
func (t *trainer) gradients(idx []int32) float64 {
	t.batchNo++
	B := len(idx)
	rs := t.d.ratings
	t.nU = group(idx, func(r int32) int32 { return rs[r].user }, t.batchNo, t.stampU, t.slotOfU, t.uniqU, t.posU, t.startU, t.listU)
	t.nI = group(idx, func(r int32) int32 { return rs[r].item }, t.batchNo, t.stampI, t.slotOfI, t.uniqI, t.posI, t.startI, t.listI)
	for p, r := range idx {
		t.target[p] = (rs[r].value - 3) / 2
	}
	H, D := t.cfg.Hidden, t.cfg.Dim

	// 1. forward every distinct user and item
	t.parallel(func(s int) {
		lo, hi := span(t.nU, s)
		for k := lo; k < hi; k++ {
			t.user.forward(&t.ux[t.uniqU[k]], t.hU[k*H:(k+1)*H], t.eU[k*D:(k+1)*D])
		}
		lo, hi = span(t.nI, s)
		for k := lo; k < hi; k++ {
			t.item.forward(&t.ix[t.uniqI[k]], t.hI[k*H:(k+1)*H], t.eI[k*D:(k+1)*D])
		}
	})
	// 2. loss and its gradient with respect to each rating's two embeddings
	t.parallel(func(s int) {
		lo, hi := span(B, s)
		sum := 0.0
		for p := lo; p < hi; p++ {
			u := t.eU[int(t.posU[p])*D:][:D]
			v := t.eI[int(t.posI[p])*D:][:D]
			c, uu, vv := cosine(u, v)
			diff := c - t.target[p]
			sum += diff * diff
			cosineGrad(u, v, c, uu, vv, 2*diff/float64(B), t.gEU[p*D:(p+1)*D], t.gEI[p*D:(p+1)*D])
		}
		t.shardLoss[s] = sum
	})
	// 3. backward every distinct user and item into the shard's gradient
	t.parallel(func(s int) {
		ge := t.scratchE[s]
		lo, hi := span(t.nU, s)
		for k := lo; k < hi; k++ {
			sumRows(ge, t.gEU, t.listU[t.startU[k]:t.startU[k+1]], D)
			t.user.backward(&t.ux[t.uniqU[k]], t.hU[k*H:(k+1)*H], ge, t.gUser[s], t.scratchH[s])
		}
		lo, hi = span(t.nI, s)
		for k := lo; k < hi; k++ {
			sumRows(ge, t.gEI, t.listI[t.startI[k]:t.startI[k+1]], D)
			t.item.backward(&t.ix[t.uniqI[k]], t.hI[k*H:(k+1)*H], ge, t.gItem[s], t.scratchH[s])
		}
	})
	loss := 0.0
	for _, l := range t.shardLoss {
		loss += l
	}
	return loss / float64(B)
}

// adamStep sums the shards' gradients in shard order, clears them and takes
// an AdamW step.
func (t *trainer) adamStep() {
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	t.b1t *= beta1
	t.b2t *= beta2
	lr := t.cfg.LearningRate
	c1 := 1 / (1 - t.b1t)
	c2 := 1 / (1 - t.b2t)
	wd := t.cfg.LearningRate * t.cfg.WeightDecay
	t.parallel(func(s int) {
		lo, hi := span(len(t.params), s)
		for j := lo; j < hi; j++ {
			g := 0.0
			for k := range shards {
				g += t.grad[k][j]
				t.grad[k][j] = 0
			}
			m := beta1*t.m[j] + (1-beta1)*g
			v := beta2*t.v[j] + (1-beta2)*float64(g*g)
			t.m[j], t.v[j] = m, v
			p := t.params[j]
			if t.decay[j] {
				p -= float64(wd * p)
			}
			t.params[j] = p - lr*(m*c1)/(math.Sqrt(v*c2)+eps)
		}
	})
}

// group finds the distinct entities (key) of a batch. It fills uniq (slot →
// entity), pos (batch position → slot) and, as compressed rows, the batch
// positions of each slot in ascending order (list[start[k]:start[k+1]]).
// stamp and slotOf are per-entity scratch; batch tells this batch apart
// from earlier ones. It returns the number of slots.
func group(idx []int32, key func(int32) int32, batch int32, stamp, slotOf, uniq, pos, start, list []int32) int {
	n := 0
	for p, r := range idx {
		e := key(r)
		if stamp[e] != batch {
			stamp[e] = batch
			slotOf[e] = int32(n)
			uniq[n] = e
			start[n+1] = 0
			n++
		}
		k := slotOf[e]
		pos[p] = k
		start[k+1]++
	}
	start[0] = 0
	for k := 1; k <= n; k++ {
		start[k] += start[k-1]
	}
	// place positions, using start[k] as a cursor, then shift back
	for p := range idx {
		k := pos[p]
		list[start[k]] = int32(p)
		start[k]++
	}
	for k := n; k > 0; k-- {
		start[k] = start[k-1]
	}
	start[0] = 0
	return n
}

// sumRows sets dst to the sum of the D-wide rows of src at the given
// positions, in order.
func sumRows(dst, src []float64, rows []int32, D int) {
	copy(dst, src[int(rows[0])*D:][:D])
	for _, p := range rows[1:] {
		row := src[int(p)*D:][:D]
		for k := range dst {
			dst[k] += row[k]
		}
	}
}

// embedAll returns the embeddings of every user and of every item (rows of
// Dim values) under the current parameters.
func (t *trainer) embedAll() (users, items []float64) {
	D := t.cfg.Dim
	users = make([]float64, len(t.ux)*D)
	items = make([]float64, len(t.ix)*D)
	t.parallel(func(s int) {
		h := make([]float64, t.cfg.Hidden)
		lo, hi := span(len(t.ux), s)
		for k := lo; k < hi; k++ {
			t.user.forward(&t.ux[k], h, users[k*D:(k+1)*D])
		}
		lo, hi = span(len(t.ix), s)
		for k := lo; k < hi; k++ {
			t.item.forward(&t.ix[k], h, items[k*D:(k+1)*D])
		}
	})
	return users, items
}

// loss returns the mean of (cos - (rating-3)/2)² over the ratings idx.
func (t *trainer) loss(idx []int32, ue, ie []float64) float64 {
	if len(idx) == 0 {
		return math.NaN()
	}
	D := t.cfg.Dim
	var part [shards]float64
	t.parallel(func(s int) {
		lo, hi := span(len(idx), s)
		sum := 0.0
		for _, r := range idx[lo:hi] {
			rt := t.d.ratings[r]
			c, _, _ := cosine(ue[int(rt.user)*D:][:D], ie[int(rt.item)*D:][:D])
			diff := c - (rt.value-3)/2
			sum += diff * diff
		}
		part[s] = sum
	})
	sum := 0.0
	for _, p := range part {
		sum += p
	}
	return sum / float64(len(idx))
}

// clone returns a tower with its own copy of t's parameters.
func (t *tower) clone() *tower {
	return newTower(t.in, t.hidden, t.out, append([]float64(nil), t.p...))
}
