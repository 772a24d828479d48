package training

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// The lake layout of a dataset named by a spec's lake.dataset. For the
// built-in dataset (Dataset) these are RunsPrefix and RunDir.

// RunsPrefixOf returns where the ETL stages the runs of dataset.
func RunsPrefixOf(dataset string) string { return ".recoflow/runs/" + dataset }

// RunDirOf returns the staging directory of run runID of dataset.
func RunDirOf(dataset, runID string) string { return path.Join(RunsPrefixOf(dataset), runID) }

// HiveNull is the directory value Hive, Spark and Athena give the partition
// of NULL values.
const HiveNull = "__HIVE_DEFAULT_PARTITION__"

// PartitionDirOf returns the Hive partition directory <column>=<value> of a
// value of the partition column, escaped the way Hive and Spark escape
// partition paths (FileUtils.escapePathName in Apache Hive): control
// characters and any of "#%'*/:=?\{[]^ and DEL become %XX, so that any
// text (a string id with a slash, say) makes one path segment that those
// engines read back as the value. null gives the HiveNull partition.
func PartitionDirOf(column, value string, null bool) string {
	if null {
		return escapeHive(column) + "=" + HiveNull
	}
	return escapeHive(column) + "=" + escapeHive(value)
}

// ParsePartitionDir splits a Hive partition directory into its column and
// unescaped value; null is true for the HiveNull partition.
func ParsePartitionDir(dir string) (column, value string, null bool, err error) {
	c, v, ok := strings.Cut(dir, "=")
	if !ok {
		return "", "", false, fmt.Errorf("partition directory %q is not <column>=<value>", dir)
	}
	if column, err = url.PathUnescape(c); err != nil {
		return "", "", false, fmt.Errorf("partition directory %q: %w", dir, err)
	}
	if v == HiveNull {
		return column, "", true, nil
	}
	if value, err = url.PathUnescape(v); err != nil {
		return "", "", false, fmt.Errorf("partition directory %q: %w", dir, err)
	}
	return column, value, false, nil
}

func hiveEscaped(c byte) bool {
	if c < 0x20 || c == 0x7f {
		return true
	}
	return strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0
}

func escapeHive(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if hiveEscaped(c) {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return HiveNull // an empty value has no directory of its own in Hive
	}
	return b.String()
}
