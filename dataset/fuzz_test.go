package dataset_test

import (
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
)

// Parse never panics on any input, and a spec it accepts survives a trip
// through Marshal.
func FuzzParse(f *testing.F) {
	f.Add([]byte(datasettest.ShopSpecYAML))
	f.Add(dataset.ClassicYAML())
	f.Add([]byte("version: 1\ninteractions: {table: t}\n"))
	f.Add([]byte("users: [1, 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := dataset.Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		out, err := dataset.Marshal(s)
		if err != nil {
			t.Fatalf("marshal an accepted spec: %v", err)
		}
		if _, err := dataset.Parse(out, "again.yaml"); err != nil {
			t.Fatalf("an accepted spec, marshalled, is rejected: %v\n%s", err, out)
		}
	})
}
