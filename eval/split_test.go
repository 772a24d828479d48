package eval

import (
	"reflect"
	"testing"
)

func manyUsers() *Data {
	d := &Data{NumUsers: 200, NumItems: 50}
	for u := range 200 {
		for j := range 1 + u%12 {
			d.Interactions = append(d.Interactions, Interaction{User: int32(u), Item: int32((u + 7*j) % 50), Rating: float32(1 + j%5), Time: int64(1000 + 10*j + u%3)})
		}
	}
	return d
}

func perUser(d *Data) []int {
	n := make([]int, d.NumUsers)
	for _, x := range d.Interactions {
		n[x.User]++
	}
	return n
}

func TestRandomSplitIsStratifiedAndSeeded(t *testing.T) {
	d := manyUsers()
	train, test, err := RandomSplit(d, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Interactions)+len(test.Interactions) != len(d.Interactions) {
		t.Fatalf("split loses interactions: %d + %d != %d", len(train.Interactions), len(test.Interactions), len(d.Interactions))
	}
	share := float64(len(test.Interactions)) / float64(len(d.Interactions))
	if share < 0.15 || share > 0.25 {
		t.Errorf("test share = %.3f, want about 0.2", share)
	}
	ntr, nte := perUser(train), perUser(test)
	for u := range d.NumUsers {
		if nte[u] > 0 && ntr[u] == 0 {
			t.Errorf("user %d: %d test and no training interactions", u, nte[u])
		}
	}
	train2, test2, _ := RandomSplit(d, 0.2, 1)
	if !reflect.DeepEqual(train, train2) || !reflect.DeepEqual(test, test2) {
		t.Error("the same seed gives another split")
	}
	_, test3, _ := RandomSplit(d, 0.2, 2)
	if reflect.DeepEqual(test, test3) {
		t.Error("another seed gives the same split")
	}
}

func TestTimeSplitHoldsOutEachUsersLatest(t *testing.T) {
	d := manyUsers()
	train, test, err := TimeSplit(d, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	latestTrain := make([]int64, d.NumUsers)
	for _, x := range train.Interactions {
		latestTrain[x.User] = max(latestTrain[x.User], x.Time)
	}
	for _, x := range test.Interactions {
		if x.Time < latestTrain[x.User] {
			t.Fatalf("user %d: test interaction at %d before a training one at %d", x.User, x.Time, latestTrain[x.User])
		}
	}
	if len(test.Interactions) == 0 {
		t.Fatal("nothing held out")
	}
	d.Interactions[5].Time = 0
	if _, _, err := TimeSplit(d, 0.3, 1); err != ErrNoTime {
		t.Errorf("err = %v, want ErrNoTime", err)
	}
}

func TestColdStartSplitHoldsOutWholeUsers(t *testing.T) {
	d := manyUsers()
	train, test, err := ColdStartSplit(d, 0.1, 3)
	if err != nil {
		t.Fatal(err)
	}
	ntr, nte, nall := perUser(train), perUser(test), perUser(d)
	cold := 0
	for u := range d.NumUsers {
		if nte[u] > 0 {
			cold++
			if ntr[u] != 0 || nte[u] != nall[u] {
				t.Errorf("cold user %d: %d training, %d of %d test", u, ntr[u], nte[u], nall[u])
			}
		}
	}
	if cold != 20 {
		t.Errorf("cold users = %d, want 20", cold)
	}
}
