package model

import (
	"encoding/json"
	"sync"
	"testing"
)

// FuzzTowerFile feeds arbitrary JSON to the tower decoder that Load uses:
// it must reject what does not fit and never panic, and a tower it accepts
// must run.
func FuzzTowerFile(f *testing.F) {
	tw := newTower(3, 2, 2, make([]float64, towerSize(3, 2, 2)))
	tw.initialize(newRNG(1, 1), 3)
	good, _ := json.Marshal(tw.file("user"))
	f.Add(good, 3)
	f.Add([]byte(`{"format":"recoflow.tower/v1","layers":[{"activation":"relu","in":1,"out":1,"weight":[[1]],"bias":[0]},{"activation":"linear","in":1,"out":1,"weight":[[1]],"bias":[0]}]}`), 1)
	f.Add([]byte(`{"format":"recoflow.tower/v1","layers":[{"activation":"relu","in":2,"out":1,"weight":[[1]],"bias":[0]}]}`), 2)
	f.Fuzz(func(t *testing.T, data []byte, width int) {
		if width < 0 || width > 1000 {
			return
		}
		var tf towerFile
		if json.Unmarshal(data, &tf) != nil {
			return
		}
		tw, err := tf.tower("user", width)
		if err != nil {
			return
		}
		var x input
		if width > 0 {
			x.add(int32(width-1), 1)
		}
		h, e := make([]float64, tw.hidden), make([]float64, tw.out)
		tw.forward(&x, h, e)
	})
}

// FuzzEncoder does the same for the stored encoders.
func FuzzEncoder(f *testing.F) {
	e := fitEncoder("user", labUsers, [][]string{{"Nantes", "France"}}, [][]float64{{1}}, []int{1})
	good, _ := json.Marshal(e)
	f.Add(good, "nantes", "FRANCE ", 3.0)
	f.Fuzz(func(t *testing.T, data []byte, city, country string, credit float64) {
		var e encoder
		if json.Unmarshal(data, &e) != nil || e.init(labUsers) != nil {
			return
		}
		x := e.encode([]string{city, country}, []float64{credit})
		for j := range x.n {
			if x.idx[j] < 0 || int(x.idx[j]) >= e.width || !isFinite(x.val[j]) {
				t.Fatalf("input %d = (%d, %v) outside width %d or not finite", j, x.idx[j], x.val[j], e.width)
			}
		}
	})
}

func TestModelIsSafeForConcurrentUse(t *testing.T) {
	res, d := trainSmall(t)
	m := res.Model
	want := make([][]float32, len(d.users))
	for k, f := range d.users {
		want[k] = m.EmbedUser(f.labUser())
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for k, f := range d.users {
				if !sameBits(m.EmbedUser(f.labUser()), want[k]) {
					t.Errorf("user %d: concurrent embedding differs", k)
					return
				}
				m.EmbedItem(d.items[k%len(d.items)].labItem())
			}
		})
	}
	wg.Wait()
}
