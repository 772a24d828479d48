package model

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/training"
)

// Rating is one training example: a user and an item, with their features,
// and the rating (1 to 5) the user gave the item.
type Rating struct {
	UserID string // customerNumber
	User   UserFeatures
	ItemID string // productCode
	Item   ItemFeatures
	Value  float64
}

// Dataset is the training data in memory: each user and item once, with its
// features, and the ratings as pairs of indices. Build it with Add or
// AddRecord, or read the lake's committed dataset with ReadDataset.
//
// A Dataset is not safe for concurrent use. Train sorts it in place (users,
// items and ratings by id), so that the model does not depend on the order
// the rows were read in.
type Dataset struct {
	userIndex map[string]int32
	userIDs   []string
	users     []Features
	itemIndex map[string]int32
	itemIDs   []string
	items     []Features
	ratings   []rating
	sorted    bool

	// spec is the dataset spec of a dataset read with ReadSpecDataset,
	// nil for the lab's (UserFeatures, ItemFeatures); userSchema and
	// itemSchema are its sides (the lab's when spec is nil).
	spec                   *dataset.Spec
	userSchema, itemSchema *sideSchema
}

type rating struct {
	user, item int32
	value      float64
	// weight is the weight of an implicit interaction as a positive (see
	// implicitWeight); 0 for an explicit rating, which weighs as its value
	// says (Config.LowRatingWeight).
	weight float64
	// time is the interaction's time in Unix seconds (the latest, for an
	// implicit pair), 0 when unknown.
	time int64
}

// posWeight is r's weight as a positive before Config.LowRatingWeight: 1
// for an explicit rating, the implicit weight otherwise.
func (r rating) posWeight() float64 {
	if r.weight > 0 {
		return r.weight
	}
	return 1
}

// NewDataset returns an empty dataset.
func NewDataset() *Dataset {
	return &Dataset{userIndex: map[string]int32{}, itemIndex: map[string]int32{}, userSchema: labUsers, itemSchema: labItems}
}

// Spec returns the dataset spec of a dataset read with ReadSpecDataset, or
// nil for the lab's.
func (d *Dataset) Spec() *dataset.Spec { return d.spec }

// implicit reports whether the dataset's feedback is implicit (purchases,
// counts, events): its ratings are all 5 and weigh by their totals, so
// there is no rating to predict.
func (d *Dataset) implicit() bool {
	return d.spec != nil && d.spec.WithDefaults().Interactions.Feedback.Kind != dataset.FeedbackExplicit
}

// Len returns the number of ratings.
func (d *Dataset) Len() int { return len(d.ratings) }

// NumUsers returns the number of distinct users (with ratings or from the
// catalogue).
func (d *Dataset) NumUsers() int { return len(d.users) }

// NumItems returns the number of distinct items (with ratings or from the
// catalogue).
func (d *Dataset) NumItems() int { return len(d.items) }

// Add appends one rating. It rejects an empty id, a rating outside 1..5, a
// NaN or infinite number, and a user or item whose features differ from
// those it had in an earlier rating; the error says which rating and why,
// and the dataset is left as it was.
func (d *Dataset) Add(r Rating) error {
	n := len(d.ratings) + 1
	where := func() string { return fmt.Sprintf("rating %d (user %q, item %q)", n, r.UserID, r.ItemID) }
	if strings.TrimSpace(r.UserID) == "" || strings.TrimSpace(r.ItemID) == "" {
		return fmt.Errorf("%s: empty user or item id", where())
	}
	if !isFinite(r.Value) || r.Value < 1 || r.Value > 5 {
		return fmt.Errorf("%s: rating %v is not a number from 1 to 5", where(), r.Value)
	}
	if d.spec != nil {
		return fmt.Errorf("%s: dataset %q holds its spec's features, not the lab's", where(), d.spec.Name)
	}
	uf, itf := r.User.features(), r.Item.features()
	if err := checkNumbers(uf, labUsers); err != nil {
		return fmt.Errorf("%s: %w", where(), err)
	}
	if err := checkNumbers(itf, labItems); err != nil {
		return fmt.Errorf("%s: %w", where(), err)
	}
	u, okU := d.userIndex[r.UserID]
	if okU && !d.users[u].equal(uf) {
		return fmt.Errorf("%s: user features %+v differ from %+v in an earlier rating", where(), r.User, d.users[u])
	}
	it, okI := d.itemIndex[r.ItemID]
	if okI && !d.items[it].equal(itf) {
		return fmt.Errorf("%s: item features %+v differ from %+v in an earlier rating", where(), r.Item, d.items[it])
	}
	if !okU {
		u = d.newUser(r.UserID, uf)
	}
	if !okI {
		it = d.newItem(r.ItemID, itf)
	}
	d.ratings = append(d.ratings, rating{user: u, item: it, value: r.Value})
	d.sorted = false
	return nil
}

// checkNumbers refuses a NaN or infinite number of the lab's features.
func checkNumbers(f Features, s *sideSchema) error {
	for i, v := range f.Nums {
		if !isFinite(v) {
			return fmt.Errorf("%s is %v, want a finite number", s.nums[i].name, v)
		}
	}
	return nil
}

func (d *Dataset) newUser(id string, f Features) int32 {
	u := int32(len(d.users))
	id = strings.Clone(id)
	d.userIndex[id] = u
	d.userIDs = append(d.userIDs, id)
	d.users = append(d.users, f.clone())
	d.sorted = false
	return u
}

func (d *Dataset) newItem(id string, f Features) int32 {
	it := int32(len(d.items))
	id = strings.Clone(id)
	d.itemIndex[id] = it
	d.itemIDs = append(d.itemIDs, id)
	d.items = append(d.items, f.clone())
	d.sorted = false
	return it
}

// AddUser adds a user without ratings (a catalogue customer), so that it
// gets an embedding from its features. A user already in d is left as it
// is when f is the same and refused when f differs; an empty id or a
// non-finite number is refused, naming the user.
func (d *Dataset) AddUser(id string, f UserFeatures) error {
	where := fmt.Sprintf("customer %q", id)
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%s: empty id", where)
	}
	g := f.features()
	if err := checkNumbers(g, labUsers); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if d.spec != nil {
		return fmt.Errorf("%s: dataset %q holds its spec's features, not the lab's", where, d.spec.Name)
	}
	if u, ok := d.userIndex[id]; ok {
		if !d.users[u].equal(g) {
			return fmt.Errorf("%s: features %+v differ from %+v in the ratings", where, f, d.users[u])
		}
		return nil
	}
	d.newUser(id, g)
	return nil
}

// AddItem adds an item without ratings (a catalogue product), with the
// same rules as AddUser.
func (d *Dataset) AddItem(id string, f ItemFeatures) error {
	where := fmt.Sprintf("product %q", id)
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("%s: empty id", where)
	}
	g := f.features()
	if err := checkNumbers(g, labItems); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if d.spec != nil {
		return fmt.Errorf("%s: dataset %q holds its spec's features, not the lab's", where, d.spec.Name)
	}
	if it, ok := d.itemIndex[id]; ok {
		if !d.items[it].equal(g) {
			return fmt.Errorf("%s: features %+v differ from %+v in the ratings", where, f, d.items[it])
		}
		return nil
	}
	d.newItem(id, g)
	return nil
}

// AddCatalog adds every customer and product of c that has no rating in
// d, converting decimals from cents to currency units as AddRecord does.
func (d *Dataset) AddCatalog(c *training.Catalog) error {
	for _, cu := range c.Customers {
		f := UserFeatures{City: cu.City, Country: cu.Country, CreditLimit: float64(cu.CreditLimit) / 100}
		if err := d.AddUser(strconv.Itoa(int(cu.CustomerNumber)), f); err != nil {
			return fmt.Errorf("catalogue: %w", err)
		}
	}
	for _, p := range c.Products {
		f := ItemFeatures{ProductLine: p.ProductLine, ProductScale: p.ProductScale,
			QuantityInStock: float64(p.QuantityInStock), BuyPrice: float64(p.BuyPrice) / 100, MSRP: float64(p.MSRP) / 100}
		if err := d.AddItem(p.ProductCode, f); err != nil {
			return fmt.Errorf("catalogue: %w", err)
		}
	}
	return nil
}

// AddRecord appends one row of the lake's training dataset (DESIGN.md §4),
// converting decimals from cents to currency units.
func (d *Dataset) AddRecord(rec *training.Record) error {
	return d.Add(Rating{
		UserID: strconv.Itoa(int(rec.CustomerNumber)),
		User: UserFeatures{
			City:        rec.City,
			Country:     rec.Country,
			CreditLimit: float64(rec.CreditLimit) / 100,
		},
		ItemID: rec.ProductCode,
		Item: ItemFeatures{
			ProductLine:     rec.ProductLine,
			ProductScale:    rec.ProductScale,
			QuantityInStock: float64(rec.QuantityInStock),
			BuyPrice:        float64(rec.BuyPrice) / 100,
			MSRP:            float64(rec.MSRP) / 100,
		},
		Value: float64(rec.ProductRating),
	})
}

// ReadDataset reads the lake's committed training dataset (only a committed
// one: see training.Read) into memory, adds the customers and products of
// the catalogue committed with it (training.ReadCatalog; an older run has
// none) that have no rating, and returns it with its manifest. A
// lake without one gives an error wrapping training.ErrNoDataset; a file
// with the wrong schema or a row with a bad value gives an error naming it.
func ReadDataset(ctx context.Context, b lake.BucketReader) (*Dataset, *training.Manifest, error) {
	d := NewDataset()
	m, err := training.Read(ctx, b, func(rec *training.Record) error {
		if err := d.AddRecord(rec); err != nil {
			return fmt.Errorf("training dataset: %w", err)
		}
		if len(d.ratings)%65536 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := training.ReadCatalog(ctx, b, m)
	if err != nil {
		return nil, nil, fmt.Errorf("training dataset: %w", err)
	}
	if c != nil {
		if err := d.AddCatalog(c); err != nil {
			return nil, nil, err
		}
	}
	return d, m, nil
}

// sort puts users and items in id order (numeric order for numeric ids) and
// ratings in (user, item, value) order.
func (d *Dataset) sort() {
	if d.sorted {
		return
	}
	uperm := sortedOrder(d.userIDs)
	iperm := sortedOrder(d.itemIDs)
	unew := inverse(uperm)
	inew := inverse(iperm)
	d.userIDs = permute(d.userIDs, uperm)
	d.users = permute(d.users, uperm)
	d.itemIDs = permute(d.itemIDs, iperm)
	d.items = permute(d.items, iperm)
	for i, id := range d.userIDs {
		d.userIndex[id] = int32(i)
	}
	for i, id := range d.itemIDs {
		d.itemIndex[id] = int32(i)
	}
	for i := range d.ratings {
		r := &d.ratings[i]
		r.user, r.item = unew[r.user], inew[r.item]
	}
	d.sortRatings()
}

// sortRatings puts the ratings in (user, item, value) order and marks d
// sorted (users and items must already be).
func (d *Dataset) sortRatings() {
	slices.SortFunc(d.ratings, func(a, b rating) int {
		return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.item, b.item), cmp.Compare(a.value, b.value))
	})
	d.sorted = true
}

// compareIDs orders ids numerically when both are integers, else
// lexically, integers first.
func compareIDs(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Or(cmp.Compare(x, y), strings.Compare(a, b))
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func sortedOrder(ids []string) []int32 {
	p := make([]int32, len(ids))
	for i := range p {
		p[i] = int32(i)
	}
	slices.SortFunc(p, func(a, b int32) int { return compareIDs(ids[a], ids[b]) })
	return p
}

func inverse(p []int32) []int32 {
	q := make([]int32, len(p))
	for i, v := range p {
		q[v] = int32(i)
	}
	return q
}

func permute[T any](s []T, p []int32) []T {
	out := make([]T, len(s))
	for i, v := range p {
		out[i] = s[v]
	}
	return out
}

// check reports what makes d unusable for training.
func (d *Dataset) check(minRatings int) error {
	if len(d.ratings) == 0 {
		return fmt.Errorf("the training dataset is empty: no ratings to learn from")
	}
	if len(d.ratings) < minRatings {
		return fmt.Errorf("the training dataset has %d rating(s): training needs at least %d to hold some out for validation and evaluation", len(d.ratings), minRatings)
	}
	if len(d.ratings) > math.MaxInt32 {
		return fmt.Errorf("the training dataset has %d ratings: more than this trainer supports (%d)", len(d.ratings), math.MaxInt32)
	}
	return nil
}

// IsBuiltIn reports whether s is the built-in classicmodels spec (by
// hash: the same meaning, however it is written).
func IsBuiltIn(s *dataset.Spec) bool {
	c := dataset.Classic()
	return s == nil || dataset.Hash(s) == dataset.Hash(&c)
}

// implicitWeight is the weight, as a positive, of a user-item pair with
// implicit feedback total f (the sum of its quantities, counts or event
// weights): log2(1 + f), so one purchase weighs 1, three weigh 2, seven 3.
func implicitWeight(f float64) float64 { return math.Log2(1 + f) }

// ReadSpecDataset reads the committed dataset of spec s from the lake
// (training.ReadTable) into memory, its features as s declares them. For
// the built-in spec it is ReadDataset, the lab's path, so the model is
// the same bit for bit.
//
// Explicit ratings are mapped linearly from the spec's scale onto 1–5 (a
// rating off the scale is an error naming it); implicit feedback (count,
// quantity, event weight) is summed per user and item, each pair becoming
// one positive of weight implicitWeight(sum) (a pair whose sum is not
// positive is left out). A missing numeric feature is NaN (the encoder
// counts it as the mean), a missing categorical one "".
func ReadSpecDataset(ctx context.Context, b lake.BucketReader, s *dataset.Spec) (*Dataset, *training.Manifest, error) {
	if IsBuiltIn(s) {
		return ReadDataset(ctx, b)
	}
	full := s.WithDefaults()
	d := NewDataset()
	spec := *s
	d.spec = &spec
	d.userSchema, d.itemSchema = schemaOf(&full.Users), schemaOf(&full.Items)
	fb := full.Interactions.Feedback
	implicit := fb.Kind != dataset.FeedbackExplicit
	lo, hi := 1.0, 5.0
	if fb.Scale != nil {
		lo, hi = fb.Scale.Min, fb.Scale.Max
	}
	pairs := map[[2]int32]int{} // implicit: the pair's rating
	n := 0
	m, err := training.ReadTable(ctx, b, s, func(row *training.GenericRow) error {
		n++
		where := func() string {
			return fmt.Sprintf("training dataset %s: row %d (user %q, item %q)", full.Lake.Dataset, n, row.UserID, row.ItemID)
		}
		if strings.TrimSpace(row.UserID) == "" || strings.TrimSpace(row.ItemID) == "" {
			return fmt.Errorf("%s: empty user or item id", where())
		}
		uf, err := rowFeatures(row, &full.Users, d.userSchema)
		if err != nil {
			return fmt.Errorf("%s: %w", where(), err)
		}
		itf, err := rowFeatures(row, &full.Items, d.itemSchema)
		if err != nil {
			return fmt.Errorf("%s: %w", where(), err)
		}
		u, okU := d.userIndex[row.UserID]
		if okU && !d.users[u].equal(uf) {
			return fmt.Errorf("%s: user features %v differ from %v in an earlier row", where(), uf, d.users[u])
		}
		it, okI := d.itemIndex[row.ItemID]
		if okI && !d.items[it].equal(itf) {
			return fmt.Errorf("%s: item features %v differ from %v in an earlier row", where(), itf, d.items[it])
		}
		if !okU {
			u = d.newUser(row.UserID, uf)
		}
		if !okI {
			it = d.newItem(row.ItemID, itf)
		}
		v := row.Feedback
		if !isFinite(v) {
			return fmt.Errorf("%s: feedback %v is not a number", where(), v)
		}
		var ts int64
		if row.HasTime {
			ts = row.Time.Unix()
		}
		if implicit {
			k := [2]int32{u, it}
			if i, ok := pairs[k]; ok {
				r := &d.ratings[i]
				r.weight += v // the sum, until the end
				r.time = max(r.time, ts)
			} else {
				pairs[k] = len(d.ratings)
				d.ratings = append(d.ratings, rating{user: u, item: it, value: 5, weight: v, time: ts})
			}
		} else {
			if v < lo || v > hi {
				return fmt.Errorf("%s: rating %v is off the scale %v to %v", where(), v, lo, hi)
			}
			if hi > lo {
				v = 1 + 4*(v-lo)/(hi-lo)
			} else {
				v = 5
			}
			d.ratings = append(d.ratings, rating{user: u, item: it, value: v, time: ts})
		}
		if n%65536 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if implicit {
		kept := d.ratings[:0]
		for _, r := range d.ratings {
			if r.weight > 0 {
				r.weight = implicitWeight(r.weight)
				kept = append(kept, r)
			}
		}
		d.ratings = kept
	}
	d.sorted = false
	return d, m, nil
}

// rowFeatures returns one side's features of a training row, in the
// order of s.
func rowFeatures(row *training.GenericRow, e *dataset.Entity, s *sideSchema) (Features, error) {
	f := Features{Cats: make([]string, 0, len(s.cats)), Nums: make([]float64, 0, len(s.nums))}
	for _, ft := range e.Features {
		name := ft.FeatureName()
		v, ok := row.Value(name)
		if !ok {
			return f, fmt.Errorf("no column %q", name)
		}
		if ft.Kind != dataset.KindNumeric {
			f.Cats = append(f.Cats, v.String())
			continue
		}
		switch v.Kind {
		case training.Null:
			f.Nums = append(f.Nums, math.NaN())
		case training.Number:
			f.Nums = append(f.Nums, v.Num)
		default:
			x, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
			if err != nil {
				return f, fmt.Errorf("numeric feature %s is %q, not a number", name, v.Str)
			}
			f.Nums = append(f.Nums, x)
		}
	}
	return f, nil
}
