package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Stream numbers keep the generators of different purposes independent for
// one seed.
const (
	streamRandomSplit = 1
	streamColdStart   = 2
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// byUser returns the indices of d's interactions grouped by user, in the
// data's order within each user.
func byUser(d *Data) [][]int {
	g := make([][]int, d.NumUsers)
	for i, x := range d.Interactions {
		g[x.User] = append(g[x.User], i)
	}
	return g
}

// heldOutCount is how many of a user's n interactions go to the test set
// for a test fraction f: f·n rounded at random (up with probability equal to
// its fractional part, so the expected share is exactly f), but never all of
// them, so that every test user keeps at least one training interaction; a
// user with a single interaction keeps it for training.
func heldOutCount(n int, f float64, r *rand.Rand) int {
	x := f * float64(n)
	k := int(math.Floor(x))
	if r.Float64() < x-float64(k) {
		k++
	}
	return min(k, n-1)
}

func checkFraction(f float64) error {
	if !(f > 0 && f < 1) {
		return fmt.Errorf("test fraction %v: must be between 0 and 1 (exclusive)", f)
	}
	return nil
}

// assemble builds train and test Data over d's users and items from a
// per-interaction test mark, keeping d's order.
func assemble(d *Data, test []bool) (*Data, *Data) {
	tr := &Data{NumUsers: d.NumUsers, NumItems: d.NumItems}
	te := &Data{NumUsers: d.NumUsers, NumItems: d.NumItems}
	for i, x := range d.Interactions {
		if test[i] {
			te.Interactions = append(te.Interactions, x)
		} else {
			tr.Interactions = append(tr.Interactions, x)
		}
	}
	return tr, te
}

// RandomSplit holds out a seeded random fraction of every user's
// interactions (stratified per user; see heldOutCount: each test user keeps
// at least one training interaction). The same data, fraction and seed give
// the same split.
func RandomSplit(d *Data, fraction float64, seed uint64) (train, test *Data, err error) {
	if err := checkFraction(fraction); err != nil {
		return nil, nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	r := newRand(seed, streamRandomSplit)
	mark := make([]bool, len(d.Interactions))
	for _, idx := range byUser(d) {
		if len(idx) == 0 {
			continue
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx[:heldOutCount(len(idx), fraction, r)] {
			mark[i] = true
		}
	}
	train, test = assemble(d, mark)
	return train, test, nil
}

// ErrNoTime is returned by TimeSplit when some interaction has no Time.
var ErrNoTime = errors.New("split by time: not every interaction has a time")

// TimeSplit holds out the latest fraction of every user's interactions (the
// count rounded as in RandomSplit; interactions at the same time are ordered
// by a seeded shuffle), so the model is asked to predict each user's future
// from their past. It needs a Time on every interaction (ErrNoTime
// otherwise).
func TimeSplit(d *Data, fraction float64, seed uint64) (train, test *Data, err error) {
	if err := checkFraction(fraction); err != nil {
		return nil, nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	if !d.HasTime() {
		return nil, nil, ErrNoTime
	}
	r := newRand(seed, streamRandomSplit)
	mark := make([]bool, len(d.Interactions))
	for _, idx := range byUser(d) {
		if len(idx) == 0 {
			continue
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		slices.SortStableFunc(idx, func(a, b int) int {
			ta, tb := d.Interactions[a].Time, d.Interactions[b].Time
			switch {
			case ta > tb:
				return -1
			case ta < tb:
				return 1
			}
			return 0
		})
		for _, i := range idx[:heldOutCount(len(idx), fraction, r)] {
			mark[i] = true
		}
	}
	train, test = assemble(d, mark)
	return train, test, nil
}

// ColdStartSplit holds out a seeded fraction of the users that have
// interactions entirely: all their interactions go to test, none to train,
// so a method must serve them without any history (from features, or
// popularity). At least one user is held out when at least two users have
// interactions; the rest keep all theirs for training.
func ColdStartSplit(d *Data, fraction float64, seed uint64) (train, test *Data, err error) {
	if err := checkFraction(fraction); err != nil {
		return nil, nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	var active []int32
	for u, idx := range byUser(d) {
		if len(idx) > 0 {
			active = append(active, int32(u))
		}
	}
	n := int(math.Round(fraction * float64(len(active))))
	if n == 0 && len(active) >= 2 {
		n = 1
	}
	n = min(n, len(active)-1)
	cold := make([]bool, d.NumUsers)
	if n > 0 {
		r := newRand(seed, streamColdStart)
		r.Shuffle(len(active), func(i, j int) { active[i], active[j] = active[j], active[i] })
		for _, u := range active[:n] {
			cold[u] = true
		}
	}
	mark := make([]bool, len(d.Interactions))
	for i, x := range d.Interactions {
		mark[i] = cold[x.User]
	}
	train, test = assemble(d, mark)
	return train, test, nil
}
