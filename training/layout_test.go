package training_test

import (
	"testing"

	"github.com/recoflow/recoflow/training"
)

// TestPartitionDir: a partition value of any text makes one path segment,
// escaped as Hive escapes it, and reads back as the value.
func TestPartitionDir(t *testing.T) {
	for _, c := range []struct {
		column, value string
		null          bool
		dir           string
	}{
		{"user_id", "3f2a-ana", false, "user_id=3f2a-ana"},
		{"customerNumber", "103", false, "customerNumber=103"},
		{"sku", "a/b=c%d:e", false, "sku=a%2Fb%3Dc%25d%3Ae"},
		{"city", "São Paulo", false, "city=São Paulo"},
		{"tag", "x#y?z*{[]}^'\"\\", false, "tag=x%23y%3Fz%2A%7B%5B%5D}%5E%27%22%5C"},
		{"line", "a\nb", false, "line=a%0Ab"},
		{"state", "", true, "state=__HIVE_DEFAULT_PARTITION__"},
		{"my col", "v", false, "my col=v"},
	} {
		dir := training.PartitionDirOf(c.column, c.value, c.null)
		if dir != c.dir {
			t.Errorf("PartitionDirOf(%q, %q, %v) = %q, want %q", c.column, c.value, c.null, dir, c.dir)
		}
		col, val, null, err := training.ParsePartitionDir(dir)
		if err != nil || col != c.column || val != c.value || null != c.null {
			t.Errorf("ParsePartitionDir(%q) = %q, %q, %v, %v; want %q, %q, %v", dir, col, val, null, err, c.column, c.value, c.null)
		}
	}
	if _, _, _, err := training.ParsePartitionDir("novalue"); err == nil {
		t.Error("ParsePartitionDir accepted a directory without '='")
	}
}
