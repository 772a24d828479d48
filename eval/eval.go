package eval

import (
	"context"
	"math"
	"strconv"
)

// Interaction is one observed (user, item) pair; users and items are dense
// indices.
type Interaction struct {
	User, Item int32
	// Rating is the rating value, 0 when the data is implicit.
	Rating float32
	// Time is the interaction's time in unix seconds, 0 when unknown.
	Time int64
}

// Data is a set of interactions over NumUsers users and NumItems items.
type Data struct {
	NumUsers, NumItems int
	Interactions       []Interaction
}

// Scorer scores every item for a user (higher is better); dst has NumItems
// entries. A user with no training interactions (cold start) must still be
// scored (by features, or by popularity). Score need not be safe for
// concurrent use.
type Scorer interface {
	Score(user int32, dst []float64)
}

// RatingPredictor is implemented by scorers that predict a rating on the
// data's scale (for RMSE).
type RatingPredictor interface {
	PredictRating(user, item int32) float64
}

// Method fits a scorer on training data. Fit must not look at anything but
// train (and side features the method was built with); it stops early with
// ctx's error when ctx ends.
type Method interface {
	Name() string
	Fit(ctx context.Context, train *Data) (Scorer, error)
}

// Implicit reports whether d carries no rating values (every Rating is 0):
// then every held-out interaction counts as relevant.
func (d *Data) Implicit() bool {
	for _, x := range d.Interactions {
		if x.Rating != 0 {
			return false
		}
	}
	return true
}

// HasTime reports whether every interaction of d has a Time (and there is
// at least one interaction), so that a split by time is possible.
func (d *Data) HasTime() bool {
	if len(d.Interactions) == 0 {
		return false
	}
	for _, x := range d.Interactions {
		if x.Time == 0 {
			return false
		}
	}
	return true
}

// Validate checks that every interaction's user and item are in range and
// its rating is finite, naming the first bad record.
func (d *Data) Validate() error {
	if d.NumUsers < 0 || d.NumItems < 0 {
		return &DataError{Index: -1, Field: "size", Reason: "negative number of users or items"}
	}
	for i, x := range d.Interactions {
		switch {
		case x.User < 0 || int(x.User) >= d.NumUsers:
			return &DataError{Index: i, Field: "user", Reason: "out of range"}
		case x.Item < 0 || int(x.Item) >= d.NumItems:
			return &DataError{Index: i, Field: "item", Reason: "out of range"}
		case math.IsNaN(float64(x.Rating)) || math.IsInf(float64(x.Rating), 0):
			return &DataError{Index: i, Field: "rating", Reason: "not a finite number"}
		}
	}
	return nil
}

// DataError is a bad interaction in a Data.
type DataError struct {
	Index  int // the interaction's index, -1 for the data as a whole
	Field  string
	Reason string
}

func (e *DataError) Error() string {
	if e.Index < 0 {
		return "eval data: " + e.Field + ": " + e.Reason
	}
	return "eval data: interaction " + strconv.Itoa(e.Index) + ": " + e.Field + ": " + e.Reason
}
