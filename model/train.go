package model

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
)

// Config tunes training. The zero value of a field means its default (see
// DefaultConfig), except Seed, for which 0 is a seed like any other, and the
// booleans, whose zero value is the default.
type Config struct {
	// Dim is the embedding dimension (32).
	Dim int `json:"dim"`
	// Hidden is the width of each tower's ReLU layer (64).
	Hidden int `json:"hidden"`
	// Epochs is the most passes over the training split (50). The refit on
	// all the data runs for the number of epochs validation chose.
	Epochs int `json:"epochs"`
	// Patience stops training after this many epochs without a better
	// validation NDCG@10 (10); negative means never stop early. When the
	// validation split has enough relevant ratings (preciseValidation) to
	// measure NDCG@10 precisely, training stops sooner: after
	// max(4, best epoch/3) epochs (at most Patience) without a gain of more
	// than 1 % over the best, and never before epoch 8, so that an early
	// peak is not trusted.
	Patience int `json:"patience"`
	// RefitEpochs is how many epochs the refit on all the data runs,
	// continuing from the validation run's best parameters (a warm start).
	// 0 chooses automatically: half the best epoch, rounded up, when the
	// validation split is precise (see Patience), else (small data, where
	// epochs are cheap) a refit from scratch. Negative always refits from
	// scratch for as many epochs as validation chose.
	RefitEpochs int `json:"refit_epochs,omitempty"`
	// BatchSize is the number of ratings per Adam step. 0 chooses by the
	// size of the training set: the largest of 256, 512 and 1024 that still
	// makes at least 700 steps per epoch (256 for fewer than 358,400
	// training ratings).
	BatchSize int `json:"batch_size"`
	// LearningRate is Adam's step size. 0 means 0.02·√(BatchSize/256):
	// 0.02 for 256, 0.04 for 1024.
	LearningRate float64 `json:"learning_rate"`
	// WeightDecay is the decoupled (AdamW) decay of the weights and id
	// vectors, not the biases, per step, relative to the learning rate
	// (0.0001). Negative means none.
	WeightDecay float64 `json:"weight_decay"`
	// ContentOnly trains the feature towers alone, without id embeddings:
	// every user and item is embedded from its features.
	ContentOnly bool `json:"content_only,omitempty"`
	// IDDropout is the probability that a user's or item's id vector is
	// left out of a training step, so that the feature path learns to stand
	// alone (0.2). Negative means never.
	IDDropout float64 `json:"id_dropout"`
	// IDLearningRate scales the learning rate of the id vectors (1). A
	// slower step (0.1–0.3) can keep id vectors of users with few ratings
	// from fitting their noise.
	IDLearningRate float64 `json:"id_learning_rate"`
	// Temperature divides the cosine similarities in the softmax (0.2).
	Temperature float64 `json:"temperature"`
	// LogQ is how much of the popularity correction (the log of each
	// negative's sampling probability) is subtracted from its logit: 1 is
	// the full correction, 0.5 (the default) half. Negative means none.
	LogQ float64 `json:"logq"`
	// Negatives is the most in-batch items each positive is contrasted
	// with (64). Measured under package eval's protocol: on generated 100k
	// ratings 64 gave NDCG@10 0.593 in 10.1 CPU-seconds per fit against
	// 0.587 in 14.2 for 128 (32: 0.584 in 8.6); on the sample (6 seeds) 64
	// and 128 score alike.
	Negatives int `json:"negatives"`
	// MinRating makes ratings below it no positives: they are not trained
	// on (but still count as seen). 0 (the default) means every rating is
	// a positive; RatingWeight weighs them.
	MinRating float64 `json:"min_rating,omitempty"`
	// LowRatingWeight is the weight, as positives, of ratings below 4
	// (those at or above MinRating), ratings of 4 and 5 weighing 1: 1
	// weighs every rating alike, smaller values trust low ratings less as a
	// sign of taste. 0 (the default) lets the data choose 0.5 or 0.25 (see
	// LowRatingChoice; Metrics.LowRating records it). Negative means 0.
	LowRatingWeight float64 `json:"low_rating_weight"`
	// ValidationFraction of the ratings choose the epochs (0.1).
	ValidationFraction float64 `json:"validation_fraction"`
	// HoldoutFraction of the ratings are kept out of training and model
	// selection and give the reported metrics (0.1). Negative means none:
	// no hold-out figures are reported.
	HoldoutFraction float64 `json:"holdout_fraction"`
	// Seed fixes the split, the initial weights, the batch order and the
	// id dropout.
	Seed uint64 `json:"seed"`
	// Workers is the number of goroutines (runtime.GOMAXPROCS), at most
	// 4 of which are used (one per shard); the steps of batches smaller
	// than 1,024 ratings run on one (see minParallelBatch). It changes the
	// speed, never the result.
	Workers int `json:"workers"`
	// Progress, if set, is called after each epoch of the validation run
	// (not of the refit).
	Progress func(EpochStats) `json:"-"`
	// HistoryWeight turns each known user's published vector towards its
	// history (see HistorySource): in direction unit(user) +
	// HistoryWeight·unit(history), so that cosine ranking adds the items
	// most like those it rated. 0 (the default) lets the validation split
	// of the validation run choose it among 0 to 5 (with the source):
	// HistoryEASE at 2 (HistoryNeighbours at 1 above EASEMaxItems) unless
	// another pair is better there by more than two standard errors of
	// the per-user differences of NDCG@10.
	// Negative means none. Content-only models have none.
	HistoryWeight float64 `json:"history_weight,omitempty"`
	// HistorySource is what the history sums: HistoryItems (the item
	// embeddings), HistoryNeighbours (their item-kNN neighbourhoods,
	// mapped into the embedding space) or HistoryEASE (their
	// neighbourhoods by EASE's weights, within EASEMaxItems). "" (the
	// default) lets the validation split choose (see HistoryWeight).
	HistorySource string `json:"history_source,omitempty"`
	// ItemNeighbourWeight turns each item's published vector towards its
	// item-kNN neighbourhood (co-rating cosine, 20 neighbours): in
	// direction unit(item) + ItemNeighbourWeight·unit(Σ similarity·
	// unit(neighbour)), so that items co-rated together lie closer. 0 (the
	// default) lets the validation split choose it among 0, 0.5, 1 and 2
	// (with the history blend, see HistoryWeight; the prior is 1).
	// Negative means none.
	ItemNeighbourWeight float64 `json:"item_neighbour_weight,omitempty"`
	// EASEMaxItems is the largest catalogue for which the history blend
	// may use HistoryEASE, whose item-item weights are dense (items² values,
	// O(items³) to compute). 0 means baseline.DefaultEASEMaxItems; negative
	// means never. A HistorySource of HistoryEASE above it is an error.
	EASEMaxItems int `json:"ease_max_items,omitempty"`
}

// DefaultConfig returns the defaults every zero field of a Config takes.
func DefaultConfig() Config {
	return Config{
		Dim:                32,
		Hidden:             64,
		Epochs:             50,
		Patience:           10,
		WeightDecay:        1e-4,
		IDDropout:          0.2,
		IDLearningRate:     1,
		Temperature:        0.2,
		LogQ:               0.5,
		Negatives:          64,
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
	set(&c.Negatives, d.Negatives)
	setF(&c.WeightDecay, d.WeightDecay)
	setF(&c.IDDropout, d.IDDropout)
	setF(&c.IDLearningRate, d.IDLearningRate)
	setF(&c.Temperature, d.Temperature)
	setF(&c.LogQ, d.LogQ)
	setF(&c.ValidationFraction, d.ValidationFraction)
	setF(&c.HoldoutFraction, d.HoldoutFraction)
	if c.WeightDecay < 0 {
		c.WeightDecay = 0
	}
	if c.IDDropout < 0 {
		c.IDDropout = 0
	}
	if c.LogQ < 0 {
		c.LogQ = 0
	}
	if c.HoldoutFraction < 0 {
		c.HoldoutFraction = 0
	}
	return c
}

// lowRatingWeight returns the weight of ratings below 4 that
// LowRatingWeight means: 0 for a negative one, and for 0 (left to the data
// but not yet chosen, as in a trainer made without Train) the weight the
// choice falls back on.
func (c Config) lowRatingWeight() float64 {
	switch {
	case c.LowRatingWeight < 0:
		return 0
	case c.LowRatingWeight == 0:
		return lowRatingWeightDefault
	}
	return c.LowRatingWeight
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
	case c.Negatives < 1:
		return fmt.Errorf("negatives %d: want at least 1", c.Negatives)
	case !(c.LearningRate >= 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("learning rate %v: want a positive number (0: automatic)", c.LearningRate)
	case !isFinite(c.WeightDecay):
		return fmt.Errorf("weight decay %v: want a finite number", c.WeightDecay)
	case !(c.IDDropout < 1):
		return fmt.Errorf("id dropout %v: want a probability below 1", c.IDDropout)
	case !(c.IDLearningRate > 0) || math.IsInf(c.IDLearningRate, 0):
		return fmt.Errorf("id learning rate %v: want a positive number", c.IDLearningRate)
	case !(c.Temperature > 0) || math.IsInf(c.Temperature, 0):
		return fmt.Errorf("temperature %v: want a positive number", c.Temperature)
	case !isFinite(c.LogQ) || c.LogQ > 4:
		return fmt.Errorf("logq %v: want 0 to 4", c.LogQ)
	case !isFinite(c.LowRatingWeight) || c.LowRatingWeight > 1:
		return fmt.Errorf("low rating weight %v: want 0 to 1", c.LowRatingWeight)
	case !isFinite(c.MinRating) || c.MinRating < 0 || c.MinRating > 5:
		return fmt.Errorf("minimum rating %v: want 0 to 5", c.MinRating)
	case !(c.ValidationFraction > 0) || !(c.HoldoutFraction >= 0) || !(c.ValidationFraction+c.HoldoutFraction < 1):
		return fmt.Errorf("validation fraction %v and hold-out fraction %v: want validation above 0, hold-out at least 0 and their sum below 1", c.ValidationFraction, c.HoldoutFraction)
	case c.Workers < 1:
		return fmt.Errorf("workers %d: want at least 1", c.Workers)
	case c.HistorySource != "" && c.HistorySource != HistoryItems && c.HistorySource != HistoryNeighbours && c.HistorySource != HistoryEASE:
		return fmt.Errorf("history source %q: want %q, %q, %q or empty (chosen on validation)", c.HistorySource, HistoryItems, HistoryNeighbours, HistoryEASE)
	case !isFinite(c.HistoryWeight):
		return fmt.Errorf("history weight %v: want a finite number", c.HistoryWeight)
	case !isFinite(c.ItemNeighbourWeight):
		return fmt.Errorf("item neighbour weight %v: want a finite number", c.ItemNeighbourWeight)
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
		c.LearningRate = 0.02 * math.Sqrt(float64(c.BatchSize)/256)
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

// Split labels, in the order the protocol reveals them: a rating of a later
// split is never seen when a model is judged on an earlier one.
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

// Train trains the model on d (see the package documentation): it splits
// off the hold-out and validation ratings, trains on the rest while
// validation picks the number of epochs, measures the hold-out figures,
// then refits on every rating for that number of epochs; the refit is the
// returned model. It is deterministic: the same data (in any order) and the
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
	if cfg.HistorySource == HistoryEASE && !cfg.ContentOnly {
		if !easeAllowed(cfg.EASEMaxItems, len(d.items)) {
			return nil, fmt.Errorf("train: history source %q: %d items, above the EASE bound (EASEMaxItems %d; 0 means %d, negative never)",
				HistoryEASE, len(d.items), cfg.EASEMaxItems, defaultEASEMaxItems)
		}
	}
	start := time.Now()
	d.sort()
	split := splitRatings(len(d.ratings), cfg)
	var lowChoice *LowRatingChoice
	if cfg.LowRatingWeight == 0 {
		c, err := chooseLowRatingWeight(ctx, d, split, cfg)
		if err != nil {
			return nil, err
		}
		lowChoice, cfg.LowRatingWeight = c, c.Weight
	}
	sel, err := selectEpochs(ctx, d, split, cfg)
	if err != nil {
		return nil, err
	}
	met := sel.t.metrics(split)
	met.LowRating = lowChoice
	met.Config = sel.t.cfg
	met.Epochs = sel.epochs
	met.BestEpoch = sel.best
	// The rating head is fitted on ratings the model did not train on:
	// the validation split's.
	var val []int32
	for r, s := range split {
		if s == splitValidation {
			val = append(val, int32(r))
		}
	}
	headA, headB := sel.t.fitRatingHead(val)
	if cfg.HoldoutFraction > 0 {
		met.Holdout = sel.t.holdout(split, headA, headB)
	}
	seen := sel.t.seen

	// The refit: every rating, the chosen number of epochs.
	all := make([]int32, len(d.ratings))
	for i := range all {
		all[i] = int32(i)
	}
	refit := newTrainer(d, all, cfg)
	first, last := 1, sel.best
	if cfg.RefitEpochs > 0 || cfg.RefitEpochs == 0 && sel.precise {
		refit.warmStart(sel.t)
		first, last = sel.best+1, sel.best+refitEpochs(cfg, sel.best)
	}
	for epoch := first; epoch <= last; epoch++ {
		if _, err := refit.epoch(ctx, epoch); err != nil {
			return nil, err
		}
	}
	seen += refit.seen
	m := refit.model()
	m.ratingA, m.ratingB = headA, headB
	applyHistory(sel.t, refit, m, met, split)
	met.Refit = RefitStats{Ratings: len(all), Epochs: last - first + 1, Users: len(m.userIDs), Items: len(m.itemIDs)}
	met.TrainingSeconds = time.Since(start).Seconds()
	if met.TrainingSeconds > 0 {
		met.RatingsPerSecond = float64(seen) / met.TrainingSeconds
	}
	return &Result{Model: m, Metrics: met, data: d}, nil
}

// refitHook, set only by tests, sees the trainer applyHistory chooses the
// history blend with and the refit it folds it into, before it does.
var refitHook func(v, refit *trainer)

// selection is the outcome of the validation run.
type selection struct {
	t       *trainer // holding the best epoch's parameters
	epochs  []EpochStats
	best    int
	precise bool // see preciseValidation
}

// selectEpochs trains on the training split, measuring NDCG@10 on the
// validation split after every epoch, and keeps the best epoch's
// parameters.
func selectEpochs(ctx context.Context, d *Dataset, split []uint8, cfg Config) (*selection, error) {
	train := make([]int32, 0, bytes.Count(split, []byte{splitTrain}))
	for r, s := range split {
		if s == splitTrain {
			train = append(train, int32(r))
		}
	}
	t := newTrainer(d, train, cfg)
	t.valUsers = validationUsers(d, split, cfg.Seed, maxValidationUsers)
	snap := t.snapshot()
	precise := preciseValidation(d, split)
	var stop stopper
	var epochs []EpochStats
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		start := time.Now()
		loss, err := t.epoch(ctx, epoch)
		if err != nil {
			return nil, err
		}
		ue, ie := t.embedAll(true)
		rk := t.rank(ue, ie, split, splitValidation, false)
		st := EpochStats{
			Epoch:               epoch,
			TrainLoss:           loss,
			ValidationNDCG:      rk.Model.NDCG,
			ValidationPrecision: rk.Model.Precision,
			Seconds:             time.Since(start).Seconds(),
		}
		if stop.add(st.ValidationNDCG) {
			snap.save(t)
			st.Best = true
		}
		epochs = append(epochs, st)
		if cfg.Progress != nil {
			cfg.Progress(st)
		}
		if stop.done(cfg.Patience, precise) {
			break
		}
	}
	snap.restore(t)
	return &selection{t: t, epochs: epochs, best: stop.bestEpoch, precise: precise}, nil
}

// stopper follows the validation NDCG@10 of successive epochs and tells
// when to stop (see Config.Patience).
type stopper struct {
	epoch, bestEpoch, gainEpoch int
	best, gainBest              float64
}

// add records the next epoch's validation NDCG@10 and reports whether it
// is the best so far.
func (s *stopper) add(ndcg float64) bool {
	s.epoch++
	if s.gainEpoch == 0 || ndcg > s.gainBest*(1+minGain) {
		s.gainBest, s.gainEpoch = ndcg, s.epoch
	}
	if s.bestEpoch == 0 || ndcg > s.best {
		s.best, s.bestEpoch = ndcg, s.epoch
		return true
	}
	return false
}

// done reports whether training should stop after the epochs added.
func (s *stopper) done(patience int, precise bool) bool {
	if patience <= 0 {
		return false
	}
	if s.epoch-s.bestEpoch >= patience {
		return true
	}
	return precise && s.epoch >= minEpochs && s.epoch-s.gainEpoch >= max(4, s.bestEpoch/3)
}

// Early stopping on a precise validation split (see Config.Patience): the
// least relative gain of validation NDCG@10 that counts as progress, the
// first epoch after which training may stop, and the number of relevant
// validation ratings (rating ≥ 4) from which the split is precise.
const (
	minGain          = 0.01
	minEpochs        = 8
	preciseRelevants = 2000
)

// preciseValidation reports whether the validation split has at least
// preciseRelevants relevant ratings: enough for the NDCG@10 of successive
// epochs to differ by more than noise.
func preciseValidation(d *Dataset, split []uint8) bool {
	n := 0
	for r, s := range split {
		if s == splitValidation && d.ratings[r].value >= 4 {
			n++
		}
	}
	return n >= preciseRelevants
}

// maxValidationUsers bounds the users whose validation NDCG@10 is measured
// after every epoch: ranking every item for every user of a large dataset
// would cost more than the epoch, and a few thousand users measure the
// mean well enough to choose an epoch.
const maxValidationUsers = 5000

// validationUsers returns which users the validation ranking measures: nil
// (all of them) when at most limit users have a validation
// rating of 4 or more, else limit of them drawn with the seed.
func validationUsers(d *Dataset, split []uint8, seed uint64, limit int) []bool {
	mark := make([]bool, len(d.users))
	var users []int32
	for r, s := range split {
		if u := d.ratings[r].user; s == splitValidation && d.ratings[r].value >= 4 && !mark[u] {
			mark[u] = true
			users = append(users, u)
		}
	}
	if len(users) <= limit {
		return nil
	}
	newRNG(seed, streamValidationUsers).shuffle(users)
	clear(mark)
	for _, u := range users[:limit] {
		mark[u] = true
	}
	return mark
}

// splitRatings draws the validation and hold-out ratings with the seed.
func splitRatings(n int, cfg Config) []uint8 {
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	newRNG(cfg.Seed, streamSplit).shuffle(perm)
	nHold := 0
	if cfg.HoldoutFraction > 0 {
		nHold = max(1, int(math.Round(float64(n)*cfg.HoldoutFraction)))
	}
	nVal := max(1, int(math.Round(float64(n)*cfg.ValidationFraction)))
	if nHold+nVal >= n { // tiny datasets: keep one rating for training
		nHold, nVal = min(nHold, 1), 1
	}
	split := make([]uint8, n)
	for _, r := range perm[:nHold] {
		split[r] = splitHoldout
	}
	for _, r := range perm[nHold : nHold+nVal] {
		split[r] = splitValidation
	}
	return split
}

// RNG streams: one per purpose, so that changing one use of randomness
// leaves the others as they were.
const (
	streamSplit uint64 = 1 + iota
	streamInit
	streamEpoch                  // + epoch number: the batch order
	streamDropout = 1<<32 + iota // + epoch number: the id dropout
	streamTune    = 1<<33 + iota // the settings Tune tries
	// the validation users measured on large data
	streamValidationUsers = 1<<34 + iota
)

// trainer holds everything one training run needs: the ratings it trains
// on, the encoders fitted on them, the parameters and their Adam state, and
// per-batch buffers.
type trainer struct {
	cfg     Config
	d       *Dataset
	train   []int32 // rating indices it trains on (positives and the rest)
	pos     []int32 // the positives among them
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
	decayRuns  []decayRun
	b1t, b2t   float64 // β1ᵗ, β2ᵗ

	// id embeddings (nil when ContentOnly): a row of Dim values per user
	// and item of d, trained only for those with training ratings.
	idU, idI          []float64
	idUm, idUv        []float64
	idIm, idIv        []float64
	knownU, knownI    []bool
	logQ              []float64 // per item: its logit correction
	dropRNG           *rng
	keepU, keepI      []bool // per slot: id vector used in this step
	stampU, stampI    []int32
	slotOfU, slotOfI  []int32
	uniqU, uniqI      []int32
	posU, posI        []int32
	startU, startI    []int32
	listU, listI      []int32
	hU, eU, hI, eI    []float64 // per slot: hidden, unit embedding
	tU, tI            []float64 // per slot: unit tower output
	nTU, nTI          []float64 // per slot: norm of the tower output
	nU2, nI2          []float64 // per slot: norm of unit tower + id
	gEU               []float64 // per position: gradient w.r.t. the unit user embedding
	gIdU, gIdI        []float64 // per slot: gradient w.r.t. the id vector
	gEIshard          [shards][]float64
	skip              [shards][]int32 // per item slot: stamp of the position it is masked for
	scratchH          [shards][]float64
	scratchE          [shards][]float64
	rowsU, logit      [shards][]float64 // per shard: its users' embeddings, its logits
	extra             [shards][]float64
	eIT               []float64 // the step's candidate item embeddings, transposed
	expDone           [shards][]uint8
	lq                []float64 // the step's candidates' logit corrections
	shardLoss, shardW [shards]float64
	batchNo           int32
	valUsers          []bool    // users the validation ranking measures (nil: all)
	nbr               []int32   // neighbours(nbrK), computed once
	nbrSim            []float64 // their similarities
	nbrK              int
	easeNbr           []int32 // easeNeighbours(historyNeighbours), computed once
	easeSim           []float64
	userNDCG          []float64 // when set, rank records each measured user's NDCG@10 (else NaN)
	userStart         []int     // userStarts, once computed
	nU, nI            int
	seen              int
}

// weight returns rating r's weight as a positive: its implicit weight (1
// for an explicit rating) when rated 4 or more, Config.LowRatingWeight
// below that, and 0 when it is not a positive at all (below MinRating).
// It is computed where it is needed rather than held per rating, so that
// training adds less memory per rating.
func (t *trainer) weight(r int32) float64 {
	rt := &t.d.ratings[r]
	if rt.value < t.cfg.MinRating {
		return 0
	}
	if rt.value < 4 {
		return t.cfg.lowRatingWeight()
	}
	return rt.posWeight()
}

func newTrainer(d *Dataset, train []int32, cfg Config) *trainer {
	t := &trainer{d: d, train: train}
	t.cfg = cfg.resolve(len(train))
	cfg = t.cfg

	// Encoders are fitted on the training rows only.
	wU := make([]int, len(d.users))
	wI := make([]int, len(d.items))
	for _, r := range train {
		wU[d.ratings[r].user]++
		wI[d.ratings[r].item]++
	}
	ucats := make([][]string, len(d.users))
	unums := make([][]float64, len(d.users))
	for k, f := range d.users {
		ucats[k], unums[k] = f.Cats, f.Nums
	}
	icats := make([][]string, len(d.items))
	inums := make([][]float64, len(d.items))
	for k, f := range d.items {
		icats[k], inums[k] = f.Cats, f.Nums
	}
	t.userEnc = fitEncoder("user", d.userSchema, ucats, unums, wU)
	t.itemEnc = fitEncoder("item", d.itemSchema, icats, inums, wI)
	t.ux = make([]input, len(d.users))
	for k := range d.users {
		t.ux[k] = t.userEnc.encode(ucats[k], unums[k])
	}
	t.ix = make([]input, len(d.items))
	for k := range d.items {
		t.ix[k] = t.itemEnc.encode(icats[k], inums[k])
	}

	// Positives and the items' sampling probabilities.
	count := make([]float64, len(d.items))
	total := 0.0
	npos := 0
	for _, r := range train {
		if t.weight(r) != 0 {
			npos++
		}
	}
	t.pos = make([]int32, 0, npos) // exactly: it is held per rating
	for _, r := range train {
		if t.weight(r) == 0 {
			continue
		}
		t.pos = append(t.pos, r)
		count[d.ratings[r].item]++
		total++
	}
	t.logQ = make([]float64, len(d.items))
	for i, c := range count {
		t.logQ[i] = cfg.LogQ * math.Log((c+1)/(total+float64(len(d.items))))
	}

	H, D := cfg.Hidden, cfg.Dim
	nu := towerSize(t.userEnc.width, H, D)
	ni := towerSize(t.itemEnc.width, H, D)
	t.params = make([]float64, nu+ni)
	t.user = newTower(t.userEnc.width, H, D, t.params[:nu])
	t.item = newTower(t.itemEnc.width, H, D, t.params[nu:])
	r := newRNG(cfg.Seed, streamInit)
	t.user.initialize(r, t.userEnc.features())
	t.item.initialize(r, t.itemEnc.features())
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
	t.decayRuns = decayRuns(t.decay)
	t.b1t, t.b2t = 1, 1

	if !cfg.ContentOnly {
		t.idU, t.idUm, t.idUv = make([]float64, len(d.users)*D), make([]float64, len(d.users)*D), make([]float64, len(d.users)*D)
		t.idI, t.idIm, t.idIv = make([]float64, len(d.items)*D), make([]float64, len(d.items)*D), make([]float64, len(d.items)*D)
		t.knownU, t.knownI = make([]bool, len(d.users)), make([]bool, len(d.items))
		for _, r := range t.pos {
			t.knownU[d.ratings[r].user] = true
			t.knownI[d.ratings[r].item] = true
		}
		// Small random vectors break the symmetry between users (items)
		// with the same features; the others stay 0 and are never used.
		initIDs(r, t.idU, t.knownU, D)
		initIDs(r, t.idI, t.knownI, D)
	}

	B := max(1, min(cfg.BatchSize, len(t.pos)))
	t.stampU = fill(make([]int32, len(d.users)), -1)
	t.stampI = fill(make([]int32, len(d.items)), -1)
	t.slotOfU = make([]int32, len(d.users))
	t.slotOfI = make([]int32, len(d.items))
	t.uniqU, t.uniqI = make([]int32, B), make([]int32, B)
	t.posU, t.posI = make([]int32, B), make([]int32, B)
	t.startU, t.startI = make([]int32, B+1), make([]int32, B+1)
	t.listU, t.listI = make([]int32, B), make([]int32, B)
	t.keepU, t.keepI = make([]bool, B), make([]bool, B)
	t.hU, t.eU = make([]float64, B*H), make([]float64, B*D)
	t.hI, t.eI = make([]float64, B*H), make([]float64, B*D)
	t.nU2, t.nI2 = make([]float64, B), make([]float64, B)
	t.tU, t.tI = make([]float64, B*D), make([]float64, B*D)
	t.nTU, t.nTI = make([]float64, B), make([]float64, B)
	t.gEU = make([]float64, B*D)
	t.gIdU, t.gIdI = make([]float64, B*D), make([]float64, B*D)
	for s := range shards {
		t.gEIshard[s] = make([]float64, B*D)
		t.skip[s] = fill(make([]int32, B), -1)
	}
	return t
}

// idInit is the half-width of the uniform distribution id vectors start
// from.
const idInit = 0.01

func initIDs(r *rng, vec []float64, known []bool, D int) {
	for k, ok := range known {
		for c := range D {
			x := idInit * (2*r.float64() - 1) // drawn for every row: stable
			if ok {
				vec[k*D+c] = x
			}
		}
	}
}

// growF returns (*s)[:n], reallocating *s when it is too short.
func growF(s *[]float64, n int) []float64 {
	if cap(*s) < n {
		*s = make([]float64, n)
	}
	return (*s)[:n]
}

// growU8 returns (*s)[:n], reallocating *s when it is too short.
func growU8(s *[]uint8, n int) []uint8 {
	if cap(*s) < n {
		*s = make([]uint8, n)
	}
	return (*s)[:n]
}

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

// parallel runs f for every shard on the trainer's workers and waits.
func (t *trainer) parallel(f func(s int)) {
	w := min(t.cfg.Workers, shards)
	if w <= 1 {
		for s := range shards {
			f(s)
		}
		return
	}
	// the caller runs the first worker's shards itself: one goroutine
	// fewer to start and to wait for
	var wg sync.WaitGroup
	for g := 1; g < w; g++ {
		wg.Go(func() {
			for s := g; s < shards; s += w {
				f(s)
			}
		})
	}
	for s := 0; s < shards; s += w {
		f(s)
	}
	wg.Wait()
}

// minParallelBatch is the smallest batch whose step runs on several
// workers. A step of 256 ratings is about a millisecond of work cut by
// four barriers: on the project's shared 2 cores, `BenchmarkFit100kHybridVsBPR`
// took 2.4–3.1 s wall and CPU with one worker against 3.4–3.6 s with two
// (2026-11-28, load ≈ 3), while 1 M ratings (batch 1,024) gained a little
// from two (BenchmarkEpoch1M: 25.8 s wall against 28.3 s). Helpers that
// spin between phases instead of a goroutine per phase were tried
// (2026-11-29, BENCHMARKS.md): with them two workers on steps of 256 cut
// that fit from 2.7 to 1.9 s wall on the idle machine, at 28 % more CPU,
// but beside stress -c 2 took 5.0–5.3 s against 3.8–4.0.
const minParallelBatch = 1024

// stepParallel is parallel for the phases of a training step: on one
// worker when the batch is smaller than minParallelBatch. The shards, and
// so the bits, are the same either way.
func (t *trainer) stepParallel(f func(s int)) {
	if t.cfg.BatchSize < minParallelBatch {
		for s := range shards {
			f(s)
		}
		return
	}
	t.parallel(f)
}

// span returns shard s's part [lo, hi) of n things.
func span(n, s int) (int, int) { return n * s / shards, n * (s + 1) / shards }

// epoch makes one pass over the positives in the epoch's order and returns
// the mean training loss.
func (t *trainer) epoch(ctx context.Context, epoch int) (float64, error) {
	order := append([]int32(nil), t.pos...)
	newRNG(t.cfg.Seed, streamEpoch+uint64(epoch)).shuffle(order)
	t.dropRNG = newRNG(t.cfg.Seed, streamDropout+uint64(epoch))
	sum, wsum := 0.0, 0.0
	B := t.cfg.BatchSize
	for b := 0; b < len(order); b += B {
		if (b/B)%32 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("train: %w", err)
			}
		}
		l, w := t.gradients(order[b:min(b+B, len(order))])
		sum += l
		wsum += w
		t.adamStep()
	}
	t.seen += len(order)
	loss := sum / max(wsum, 1e-300)
	if !isFinite(loss) {
		return 0, fmt.Errorf("train: the loss is not a number at epoch %d: lower the learning rate", epoch)
	}
	return loss, nil
}

// gradients computes, into the shards' gradient buffers (towers) and
// per distinct user and item of the batch, the gradient of
// the sampled-softmax loss of the positives idx (id rows: t.gIdU, t.gIdI),
// and returns the loss summed over them, and the sum of their weights.
//
// Each positive (u, i) is contrasted with the batch's first Negatives
// distinct items (and i): the loss is
//
//	−log softmax_j( cos(u, j)/τ − LogQ·log q_j )[i]
//
// where q_j is item j's share of the training positives, the probability
// that it is drawn as an in-batch negative. Items the same user has as a
// positive elsewhere in the batch are not used as its negatives.
//
// Each distinct user and item of the batch goes through its tower once: the
// gradients of its positives are summed (in batch order) before the
// backward pass, which is exact because the backward pass is linear in
// them.
func (t *trainer) gradients(idx []int32) (loss, weight float64) {
	t.batchNo++
	B := len(idx)
	rs := t.d.ratings
	t.nU = group(idx, func(r int32) int32 { return rs[r].user }, t.batchNo, t.stampU, t.slotOfU, t.uniqU, t.posU, t.startU, t.listU)
	t.nI = group(idx, func(r int32) int32 { return rs[r].item }, t.batchNo, t.stampI, t.slotOfI, t.uniqI, t.posI, t.startI, t.listI)
	H, D := t.cfg.Hidden, t.cfg.Dim
	ids := t.idU != nil
	if ids {
		// Drawn in slot order, before any parallel work: deterministic.
		for k := range t.nU {
			t.keepU[k] = t.dropRNG.float64() >= t.cfg.IDDropout
		}
		for k := range t.nI {
			t.keepI[k] = t.dropRNG.float64() >= t.cfg.IDDropout
		}
	}

	// 1. forward every distinct user and item; normalize
	t.stepParallel(func(s int) {
		lo, hi := span(t.nU, s)
		for k := lo; k < hi; k++ {
			e, tw := t.eU[k*D:(k+1)*D], t.tU[k*D:(k+1)*D]
			u := t.uniqU[k]
			t.user.forward(&t.ux[u], t.hU[k*H:(k+1)*H], tw)
			t.nTU[k] = normalizeInPlace(tw)
			copy(e, tw)
			if ids && t.keepU[k] {
				axpy(e, 1, t.idU[int(u)*D:][:D])
			}
			t.nU2[k] = normalizeInPlace(e)
		}
		lo, hi = span(t.nI, s)
		for k := lo; k < hi; k++ {
			e, tw := t.eI[k*D:(k+1)*D], t.tI[k*D:(k+1)*D]
			i := t.uniqI[k]
			t.item.forward(&t.ix[i], t.hI[k*H:(k+1)*H], tw)
			t.nTI[k] = normalizeInPlace(tw)
			copy(e, tw)
			if ids && t.keepI[k] {
				axpy(e, 1, t.idI[int(i)*D:][:D])
			}
			t.nI2[k] = normalizeInPlace(e)
		}
	})
	// 2. softmax over the negatives, per positive; gradients with respect
	// to the unit embeddings (users per position, items per shard)
	M := min(t.nI, t.cfg.Negatives)
	invTau := 1 / t.cfg.Temperature
	var ET []float64 // the candidates' embeddings transposed, for mulABtT
	if vectorGemm(M) {
		ET = growF(&t.eIT, M*D)
		transpose(ET, t.eI[:M*D], M, D)
	}
	// With AVX2, each row's logits, and its gradient, four at a time:
	// lq holds the candidates' corrections.
	vec := useAVX2 && M >= 4
	lq := growF(&t.lq, M)
	for c := range lq {
		lq[c] = t.logQ[t.uniqI[c]]
	}
	t.stepParallel(func(s int) {
		lo, hi := span(B, s)
		R := hi - lo
		gI := t.gEIshard[s][:t.nI*D]
		skip := t.skip[s]
		// The shard's users as rows U, its logits (then gradients) as G:
		// the first M items are every row's candidates, so the scores
		// and both gradients are matrix products.
		U := growF(&t.rowsU[s], R*D)
		G := growF(&t.logit[s], R*M)
		extra := growF(&t.extra[s], R) // gradient of the positive item beyond the first M
		for r := range R {
			copy(U[r*D:(r+1)*D], t.eU[int(t.posU[lo+r])*D:][:D])
		}
		E := t.eI[:M*D]
		if ET != nil {
			mulABtT(G, U, ET, R, M, D)
		} else {
			mulABt(G, U, E, R, M, D)
		}
		sum, wsum := 0.0, 0.0
		for r := range R {
			p := lo + r
			w := t.weight(idx[p])
			row := G[r*M : (r+1)*M]
			extra[r] = 0
			if w == 0 {
				clear(row)
				continue
			}
			ku, ki := t.posU[p], t.posI[p]
			mx := math.Inf(-1)
			if vec {
				// the same logits: masked candidates are −Inf before
				// and after; the largest is the same value (a max
				// does not depend on the order, but for the sign of a
				// zero, which subtracting it cannot tell)
				for _, q := range t.listU[t.startU[ku]:t.startU[ku+1]] {
					if j := t.posI[q]; j != ki && int(j) < M {
						row[j] = math.Inf(-1)
					}
				}
				mx = logitsAVX2(row, lq, invTau)
				for c := M &^ 3; c < M; c++ {
					l := row[c]*invTau - lq[c]
					row[c] = l
					mx = max(mx, l)
				}
			} else {
				// mask the user's other positives of this batch
				for _, q := range t.listU[t.startU[ku]:t.startU[ku+1]] {
					if j := t.posI[q]; j != ki {
						skip[j] = int32(p)
					}
				}
				for c := range row {
					if skip[c] == int32(p) {
						row[c] = math.Inf(-1)
						continue
					}
					l := row[c]*invTau - t.logQ[t.uniqI[c]]
					row[c] = l
					mx = max(mx, l)
				}
				for _, q := range t.listU[t.startU[ku]:t.startU[ku+1]] {
					skip[t.posI[q]] = -1
				}
			}
			beyond := int(ki) >= M
			le := 0.0
			if beyond {
				le = dotSeq(U[r*D:(r+1)*D], t.eI[int(ki)*D:][:D])*invTau - t.logQ[t.uniqI[ki]]
				mx = max(mx, le)
			}
			z := 0.0
			if useVectorExp && M >= 4 {
				// math.Exp's bits, four at a time (quads outside the
				// vector's range are left to math.Exp), then the same sum
				done := growU8(&t.expDone[s], M/4)
				expShiftAVX2(row, mx, done)
				for q, ok := range done {
					if ok == 0 {
						for c := 4 * q; c < 4*q+4; c++ {
							row[c] = math.Exp(row[c] - mx)
						}
					}
				}
				for c := M &^ 3; c < M; c++ {
					row[c] = math.Exp(row[c] - mx)
				}
				for _, e := range row {
					z += e
				}
			} else {
				for c := range row {
					e := math.Exp(row[c] - mx)
					row[c] = e
					z += e
				}
			}
			if beyond {
				le = math.Exp(le - mx)
				z += le
			}
			pp := le
			if !beyond {
				pp = row[ki]
			}
			sum += w * -math.Log(pp/z)
			wsum += w
			a := w * invTau
			if vec {
				// the same products: (row/z)·a, the positive's fixed after
				keep := 0.0
				if !beyond {
					keep = row[ki]
				}
				divScaleAVX2(row, z, a)
				for c := M &^ 3; c < M; c++ {
					row[c] = (row[c] / z) * a
				}
				if !beyond {
					row[ki] = (keep/z - 1) * a
				}
			} else {
				for c := range row {
					g := row[c] / z
					if c == int(ki) {
						g--
					}
					row[c] = g * a
				}
			}
			if beyond {
				extra[r] = (le/z - 1) * a
			}
		}
		// gradients with respect to the unit user embeddings (per position)
		// and item embeddings (per shard)
		gU := t.gEU[lo*D : hi*D]
		mulAB(gU, G, E, R, M, D)
		mulAtB(gI[:M*D], G, U, R, M, D)
		clear(gI[M*D:])
		for r := range R {
			if extra[r] == 0 {
				continue
			}
			ki := int(t.posI[lo+r])
			axpy(gU[r*D:(r+1)*D], extra[r], t.eI[ki*D:][:D])
			axpy(gI[ki*D:(ki+1)*D], extra[r], U[r*D:(r+1)*D])
		}
		t.shardLoss[s], t.shardW[s] = sum, wsum
	})
	for _, w := range t.shardW {
		weight += w
	}
	for _, l := range t.shardLoss {
		loss += l
	}
	if weight == 0 {
		return 0, 0
	}
	scale := 1 / weight // the step minimizes the weighted mean
	// 3. sum per distinct user and item, through the normalization, and
	// backward into the shard's gradient; id rows get theirs directly
	t.stepParallel(func(s int) {
		ge := t.scratchE[s]
		lo, hi := span(t.nU, s)
		for k := lo; k < hi; k++ {
			sumRows(ge, t.gEU, t.listU[t.startU[k]:t.startU[k+1]], D)
			unnormalizeGrad(ge, t.eU[k*D:(k+1)*D], t.nU2[k], scale)
			if ids && t.keepU[k] {
				copy(t.gIdU[k*D:(k+1)*D], ge)
			}
			unnormalizeGrad(ge, t.tU[k*D:(k+1)*D], t.nTU[k], 1)
			u := t.uniqU[k]
			t.user.backward(&t.ux[u], t.hU[k*H:(k+1)*H], ge, t.gUser[s], t.scratchH[s])
		}
		lo, hi = span(t.nI, s)
		for k := lo; k < hi; k++ {
			copy(ge, t.gEIshard[0][k*D:(k+1)*D])
			for sh := 1; sh < shards; sh++ {
				axpy(ge, 1, t.gEIshard[sh][k*D:(k+1)*D])
			}
			unnormalizeGrad(ge, t.eI[k*D:(k+1)*D], t.nI2[k], scale)
			if ids && t.keepI[k] {
				copy(t.gIdI[k*D:(k+1)*D], ge)
			}
			unnormalizeGrad(ge, t.tI[k*D:(k+1)*D], t.nTI[k], 1)
			i := t.uniqI[k]
			t.item.backward(&t.ix[i], t.hI[k*H:(k+1)*H], ge, t.gItem[s], t.scratchH[s])
		}
	})
	return loss, weight
}

// normalizeInPlace scales e to unit length and returns its former norm.
func normalizeInPlace(e []float64) float64 {
	n := math.Sqrt(dot(e, e) + cosineEps)
	inv := 1 / n
	for k := range e {
		e[k] *= inv
	}
	return n
}

// unnormalizeGrad turns g, the gradient with respect to the unit vector
// û = e/‖e‖, into scale times the gradient with respect to e:
// (g − û(û·g))/‖e‖.
func unnormalizeGrad(g, unit []float64, norm, scale float64) {
	c := dot(unit, g)
	a := scale / norm
	for k := range g {
		g[k] = a * (g[k] - float64(c*unit[k]))
	}
}

// adamStep sums the shards' gradients in shard order, clears them and takes
// an AdamW step of the towers, and a lazy one of the id rows of the batch:
// only the rows that took part in the step move, with the step's bias
// correction.
func (t *trainer) adamStep() {
	t.b1t *= beta1
	t.b2t *= beta2
	lr := t.cfg.LearningRate
	c1 := 1 / (1 - t.b1t)
	c2 := 1 / (1 - t.b2t)
	wd := t.cfg.LearningRate * t.cfg.WeightDecay
	D := t.cfg.Dim
	ids := t.idU != nil
	lrID := lr * t.cfg.IDLearningRate
	wdID := lrID * t.cfg.WeightDecay
	kT, kID := newAdamConsts(lr, wd, c1, c2), newAdamConsts(lrID, wdID, c1, c2)
	t.stepParallel(func(s int) {
		lo, hi := span(len(t.params), s)
		for _, r := range t.decayRuns {
			a, b := max(lo, r.lo), min(hi, r.hi)
			if a >= b {
				continue
			}
			flags := adamShards
			if r.decay {
				flags |= adamDecay
			}
			adam(t.params[a:b], t.m[a:b], t.v[a:b], t.grad[0][a:b], t.grad[1][a:b], t.grad[2][a:b], t.grad[3][a:b], &kT, flags)
		}
		if !ids {
			return
		}
		lo, hi = span(t.nU, s)
		for k := lo; k < hi; k++ {
			if t.keepU[k] {
				o := int(t.uniqU[k]) * D
				adam(t.idU[o:o+D], t.idUm[o:o+D], t.idUv[o:o+D], t.gIdU[k*D:(k+1)*D], nil, nil, nil, &kID, adamDecay)
			}
		}
		lo, hi = span(t.nI, s)
		for k := lo; k < hi; k++ {
			if t.keepI[k] {
				o := int(t.uniqI[k]) * D
				adam(t.idI[o:o+D], t.idIm[o:o+D], t.idIv[o:o+D], t.gIdI[k*D:(k+1)*D], nil, nil, nil, &kID, adamDecay)
			}
		}
	})
}

// The shard sum in adam is written out for four shards.
var _ = [1]struct{}{}[shards-4]

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
// Dim values) under the current parameters: tower plus id vector for those
// with training positives, tower alone for the others. With round, each
// value is rounded to float32, as the embeddings are published.
func (t *trainer) embedAll(round bool) (users, items []float64) {
	D := t.cfg.Dim
	users = make([]float64, len(t.ux)*D)
	items = make([]float64, len(t.ix)*D)
	t.parallel(func(s int) {
		h := make([]float64, t.cfg.Hidden)
		do := func(n int, tw *tower, x []input, id []float64, known []bool, out []float64) {
			lo, hi := span(n, s)
			for k := lo; k < hi; k++ {
				e := out[k*D : (k+1)*D]
				tw.forward(&x[k], h, e)
				normalizeInPlace(e)
				if id != nil && known[k] {
					axpy(e, 1, id[k*D:(k+1)*D])
				}
				if round {
					for c, v := range e {
						e[c] = float64(float32(v))
					}
				}
			}
		}
		do(len(t.ux), t.user, t.ux, t.idU, t.knownU, users)
		do(len(t.ix), t.item, t.ix, t.idI, t.knownI, items)
	})
	return users, items
}

// snapshot holds a copy of a trainer's parameters.
type snapshot struct{ params, idU, idI []float64 }

func (t *trainer) snapshot() *snapshot {
	return &snapshot{params: make([]float64, len(t.params)), idU: make([]float64, len(t.idU)), idI: make([]float64, len(t.idI))}
}

func (s *snapshot) save(t *trainer) {
	copy(s.params, t.params)
	copy(s.idU, t.idU)
	copy(s.idI, t.idI)
}

func (s *snapshot) restore(t *trainer) {
	copy(t.params, s.params)
	copy(t.idU, s.idU)
	copy(t.idI, s.idI)
}

// model returns the trained model: encoders, copies of the towers and the
// id vectors of the users and items with training positives.
func (t *trainer) model() *Model {
	m := &Model{
		dim:     t.cfg.Dim,
		userEnc: t.userEnc,
		itemEnc: t.itemEnc,
		user:    t.user.clone(),
		item:    t.item.clone(),
		ratingA: 3,
		ratingB: 2,
		spec:    t.d.spec,
	}
	if t.idU != nil {
		m.userIDs, m.userVec = idTable(t.d.userIDs, t.knownU, t.idU, t.cfg.Dim)
		m.itemIDs, m.itemVec = idTable(t.d.itemIDs, t.knownI, t.idI, t.cfg.Dim)
	}
	return m
}

func idTable(ids []string, known []bool, vec []float64, D int) (map[string]int32, []float64) {
	index := map[string]int32{}
	var out []float64
	for k, id := range ids {
		if known[k] {
			index[id] = int32(len(index))
			out = append(out, vec[k*D:(k+1)*D]...)
		}
	}
	return index, out
}

// fitRatingHead fits rating ≈ a + b·cos by least squares on the ratings
// idx, cosines of the embeddings as published: the rating head that keeps an
// RMSE reported for a model trained to rank. Fitted on ratings the model
// trained on it would learn the cosines of memorized pairs.
func (t *trainer) fitRatingHead(idx []int32) (a, b float64) {
	ue, ie := t.embedAll(true)
	D := t.cfg.Dim
	var n, sx, sy, sxx, sxy float64
	for _, r := range idx {
		rt := t.d.ratings[r]
		c, _, _ := cosine(ue[int(rt.user)*D:][:D], ie[int(rt.item)*D:][:D])
		n++
		sx += c
		sy += rt.value
		sxx += c * c
		sxy += c * rt.value
	}
	if n == 0 {
		return 3, 0
	}
	vx := sxx/n - (sx/n)*(sx/n)
	if vx <= 1e-12 {
		return sy / n, 0
	}
	b = (sxy/n - (sx/n)*(sy/n)) / vx
	return sy/n - b*sx/n, b
}

// clone returns a tower with its own copy of t's parameters.
func (t *tower) clone() *tower {
	return newTower(t.in, t.hidden, t.out, append([]float64(nil), t.p...))
}

// refitEpochs is the length of a warm-started refit after a validation run
// whose best epoch was best: cfg.RefitEpochs if set, else half of best,
// rounded up. Measured on generated 100k ratings (best epoch 9), the
// published model's NDCG@10 under package eval's protocol was 0.575 after
// 1 warm epoch, 0.590 after 2, 0.604 after 5, and 0.607 after a 9-epoch
// refit from scratch: the ratings the validation run did not train on need
// a few passes.
func refitEpochs(cfg Config, best int) int {
	if cfg.RefitEpochs > 0 {
		return cfg.RefitEpochs
	}
	return max(1, (best+1)/2)
}

// warmStart sets t's parameters and Adam state to those of t0, a run on
// part of the same data: tower weights mapped through the two runs'
// encoders (a category t0 did not know starts at 0; a numeric input's
// weights are rescaled and the hidden bias shifted so that the tower
// computes the same function of the raw features), the id vectors of the
// users and items t0 trained (the others keep their fresh start), the
// moments and the step count.
func (t *trainer) warmStart(t0 *trainer) {
	H, D := t.cfg.Hidden, t.cfg.Dim
	nu, nu0 := towerSize(t.userEnc.width, H, D), towerSize(t0.userEnc.width, H, D)
	for _, x := range []struct {
		dst, src []float64
		affine   bool
	}{{t.params, t0.params, true}, {t.m, t0.m, false}, {t.v, t0.v, false}} {
		transferTower(x.dst[:nu], x.src[:nu0], t.userEnc, t0.userEnc, H, D, x.affine)
		transferTower(x.dst[nu:], x.src[nu0:], t.itemEnc, t0.itemEnc, H, D, x.affine)
	}
	t.b1t, t.b2t = t0.b1t, t0.b2t
	if t.idU == nil || t0.idU == nil {
		return
	}
	copyKnown := func(dst, src []float64, known []bool) {
		for k, ok := range known {
			if ok {
				copy(dst[k*D:(k+1)*D], src[k*D:(k+1)*D])
			}
		}
	}
	copyKnown(t.idU, t0.idU, t0.knownU)
	copyKnown(t.idUm, t0.idUm, t0.knownU)
	copyKnown(t.idUv, t0.idUv, t0.knownU)
	copyKnown(t.idI, t0.idI, t0.knownI)
	copyKnown(t.idIm, t0.idIm, t0.knownI)
	copyKnown(t.idIv, t0.idIv, t0.knownI)
}

// transferTower copies the tower laid over src (inputs encoded by from)
// into the one laid over dst (inputs encoded by to): rows of the one-hot
// categories by name (0 for categories from does not know), rows of the
// numeric inputs as they are or, with affine, rescaled from from's scaler
// to to's with the hidden bias compensating the shift of the mean.
func transferTower(dst, src []float64, to, from *encoder, H, D int, affine bool) {
	td := newTower(to.width, H, D, dst)
	ts := newTower(from.width, H, D, src)
	clear(td.w1)
	copy(td.b1, ts.b1)
	copy(td.w2, ts.w2)
	copy(td.b2, ts.b2)
	for c, oh := range to.OneHot {
		for i, v := range oh.Categories {
			if j, ok := from.OneHot[c].index[v]; ok {
				copy(td.w1[int(to.offsets[c]+int32(i))*H:][:H], ts.w1[int(from.offsets[c]+j)*H:][:H])
			}
		}
	}
	baseTo, baseFrom := to.width-len(to.Scalers), from.width-len(from.Scalers)
	for j, sc := range to.Scalers {
		rowTo, rowFrom := td.w1[(baseTo+j)*H:][:H], ts.w1[(baseFrom+j)*H:][:H]
		if !affine {
			copy(rowTo, rowFrom)
			continue
		}
		// w·(x−m₀)/s₀ = (w·s/s₀)·(x−m)/s + w·(m−m₀)/s₀
		f := from.Scalers[j]
		axpy(rowTo, sc.Scale/f.Scale, rowFrom)
		axpy(td.b1, (sc.Mean-f.Mean)/f.Scale, rowFrom)
	}
}
