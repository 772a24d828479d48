package etl

import (
	"testing"
	"time"

	"github.com/recoflow/recoflow/source"
)

// TestLakeTypes: the Parquet type each source type is written as.
func TestLakeTypes(t *testing.T) {
	for _, c := range []struct {
		declared string
		sqlite   bool
		want     string
	}{
		{"varchar(36)", false, "STRING"},
		{"int(11)", false, "INT32"},
		{"int", false, "INT32"},
		{"int unsigned", false, "INT64"},
		{"smallint(6)", false, "INT32"},
		{"bigint(20)", false, "INT64"},
		{"INTEGER", true, "INT64"},
		{"tinyint(1)", false, "INT32"},
		{"decimal(10,2)", false, "DECIMAL(10,2)"},
		{"DECIMAL(6,2)", true, "DECIMAL(6,2)"},
		{"decimal(12,0) unsigned", false, "DECIMAL(12,0)"},
		{"NUMERIC", true, "DOUBLE"},
		{"double", false, "DOUBLE"},
		{"float", false, "DOUBLE"},
		{"date", false, "DATE"},
		{"datetime(6)", false, "TIMESTAMP(MICROS)"},
		{"timestamp", false, "TIMESTAMP(MICROS)"},
		{"time", false, "STRING"},
		{"year(4)", false, "INT32"},
		{"blob", false, "BINARY"},
		{"", true, "STRING"},
	} {
		col := planCol{info: source.ColumnInfo{Name: "c", DeclaredType: c.declared, Class: source.ClassOf(c.declared)}}
		if err := col.setKind(c.sqlite); err != nil {
			t.Errorf("%s: %v", c.declared, err)
			continue
		}
		if got := col.lakeType(); got != c.want {
			t.Errorf("%s (sqlite %v) is written as %s, want %s", c.declared, c.sqlite, got, c.want)
		}
	}
	col := planCol{where: "t.c", info: source.ColumnInfo{DeclaredType: "decimal(30,4)", Class: source.ClassDecimal}}
	if err := col.setKind(false); err == nil {
		t.Error("DECIMAL(30,4) was accepted; the lake keeps 18 digits at most")
	}
}

func TestValueConversions(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int64
		err  bool
	}{
		{[]byte("12.00"), 1200, false}, {"4.5", 450, false}, {int64(7), 700, false}, {9.99, 999, false},
		{"-0.005", -1, false}, {"0.004", 0, false}, {"9999.99", 999999, false}, {"10000.00", 0, true},
		{"abc", 0, true}, {"1/2", 0, true},
	} {
		got, err := toDecimal(c.in, 6, 2)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("toDecimal(%v, 6, 2) = %d, %v; want %d (error %v)", c.in, got, err, c.want, c.err)
		}
	}
	for _, c := range []struct {
		in    any
		class source.Class
		want  string
		err   bool
	}{
		{[]byte("2025-03-01"), source.ClassTime, "2025-03-01T00:00:00Z", false},
		{"2025-03-01 12:34:56.123456", source.ClassTime, "2025-03-01T12:34:56.123456Z", false},
		{"2025-03-01T12:34:56+02:00", source.ClassText, "2025-03-01T10:34:56Z", false},
		{time.Date(2025, 3, 1, 1, 2, 3, 0, time.UTC), source.ClassTime, "2025-03-01T01:02:03Z", false},
		{int64(1740787200), source.ClassInteger, "2025-03-01T00:00:00Z", false},
		{2460735.5, source.ClassFloat, "2025-03-01T00:00:00Z", false},
		{"0000-00-00", source.ClassTime, "", true},
		{"yesterday", source.ClassText, "", true},
	} {
		got, err := toTime(c.in, c.class)
		if (err != nil) != c.err || (!c.err && got.Format(time.RFC3339Nano) != c.want) {
			t.Errorf("toTime(%v) = %s, %v; want %s (error %v)", c.in, got.Format(time.RFC3339Nano), err, c.want, c.err)
		}
	}
	if _, err := toInt("3000000000"); err != nil {
		t.Errorf("toInt of a 64-bit number: %v", err)
	}
	c32 := planCol{kind: kInt32}
	if _, err := c32.value("3000000000"); err == nil {
		t.Error("3000000000 was accepted into an INT32 column")
	}
	if v, err := c32.value(7.0); err != nil || v.Int32() != 7 {
		t.Errorf("7.0 into INT32: %v, %v", v, err)
	}
}
