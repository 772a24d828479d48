package sample

import (
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseDump(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Table
	}{
		{
			name: "empty",
			src:  "",
		},
		{
			name: "only other statements and comments",
			src:  "/* header; with ; */\r\n/*!40101 SET NAMES utf8 */;\r\n-- note; here\r\n# another; one\r\nCREATE TABLE `t` (`a` int, `b;` varchar(3) DEFAULT 'x;y');\r\nDROP TABLE IF EXISTS t;",
		},
		{
			name: "dump style with CRLF",
			src:  "insert  into `t`(`a`,`b`,`c`) values \r\r\n(1,'x',NULL),\r\r\n(-2,'it''s','21000.00');\r\n",
			want: []Table{{Name: "t", Columns: []string{"a", "b", "c"}, Rows: [][]any{
				{int64(1), "x", nil},
				{int64(-2), "it's", "21000.00"},
			}}},
		},
		{
			name: "escapes",
			src:  `INSERT INTO t (s) VALUES ('a\'b'),('c\\d'),('\r\n\t\0\b\Z'),('50\%\_'),("dq \"x\" ""y"" 'z'"),('\q');`,
			want: []Table{{Name: "t", Columns: []string{"s"}, Rows: [][]any{
				{"a'b"}, {`c\d`}, {"\r\n\t\x00\b\x1a"}, {`50\%\_`}, {`dq "x" "y" 'z'`}, {"q"},
			}}},
		},
		{
			name: "numbers",
			src:  "INSERT INTO n (v) VALUES (0),(+7),(-9223372036854775808),(1.50),(.5),(2e3),(-1E-2),(99999999999999999999);",
			want: []Table{{Name: "n", Columns: []string{"v"}, Rows: [][]any{
				{int64(0)}, {int64(7)}, {int64(math.MinInt64)}, {1.5}, {0.5}, {2000.0}, {-0.01}, {1e20},
			}}},
		},
		{
			name: "bare and qualified names, modifiers, two statements",
			src:  "insert ignore into db.`t` (a, `b``c`) value (1, 2);\ninsert into t(a,`b``c`)values(3,4)",
			want: []Table{{Name: "t", Columns: []string{"a", "b`c"}, Rows: [][]any{
				{int64(1), int64(2)}, {int64(3), int64(4)},
			}}},
		},
		{
			name: "tables keep first-insert order",
			src:  "INSERT INTO b (x) VALUES (1); INSERT INTO a (y) VALUES ('2'); INSERT INTO b (x) VALUES (3);",
			want: []Table{
				{Name: "b", Columns: []string{"x"}, Rows: [][]any{{int64(1)}, {int64(3)}}},
				{Name: "a", Columns: []string{"y"}, Rows: [][]any{{"2"}}},
			},
		},
		{
			name: "comments between tokens",
			src:  "INSERT /* c */ INTO t /* d */ (a /* e */) VALUES /* f */ (1 /* g */);",
			want: []Table{{Name: "t", Columns: []string{"a"}, Rows: [][]any{{int64(1)}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDump([]byte(tt.src))
			if err != nil {
				t.Fatalf("ParseDump: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDump =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseDumpErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
		line, col       int
	}{
		{"no column list", "INSERT INTO t VALUES (1);", "column list", 1, 15},
		{"row too short", "INSERT INTO t (a,b) VALUES\n(1,2),\n(3);", "1 values for 2 columns", 3, 3},
		{"row too long", "INSERT INTO t (a) VALUES (1,2);", "2 values for 1 columns", 1, 30},
		{"unterminated string", "INSERT INTO t (a) VALUES ('abc);", "unterminated string", 1, 27},
		{"unterminated escape", `INSERT INTO t (a) VALUES ('abc\`, "unterminated string", 1, 27},
		{"unterminated comment", "/* forever", "unterminated /* comment", 1, 1},
		{"unterminated identifier", "INSERT INTO `t (a) VALUES (1);", "unterminated `identifier`", 1, 13},
		{"empty identifier", "INSERT INTO `` (a) VALUES (1);", "empty `identifier`", 1, 13},
		{"bad value", "INSERT INTO t (a) VALUES (now());", "want a quoted string, NULL or a number", 1, 27},
		{"malformed number", "INSERT INTO t (a) VALUES (12abc);", "malformed number", 1, 27},
		{"bad exponent", "INSERT INTO t (a) VALUES (1e+);", "malformed number exponent", 1, 27},
		{"lone sign", "INSERT INTO t (a) VALUES (-);", "malformed number", 1, 27},
		{"missing values", "INSERT INTO t (a) SELECT 1;", "want VALUES", 1, 19},
		{"junk after row", "INSERT INTO t (a) VALUES (1) (2);", "want ',' or ';'", 1, 30},
		{"duplicate column", "INSERT INTO t (a,a) VALUES (1,2);", "listed twice", 1, 18},
		{"unterminated skipped string", "SET x = 'abc;", "unterminated string", 1, 9},
		{"end of input in row", "INSERT INTO t (a) VALUES (", "want a value", 1, 27},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDump([]byte(tt.src))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseDump error = %v, want a *SyntaxError", err)
			}
			if !strings.Contains(se.Msg, tt.want) || se.Line != tt.line || se.Col != tt.col {
				t.Errorf("error = %q at %d:%d, want %q at %d:%d", se.Msg, se.Line, se.Col, tt.want, tt.line, tt.col)
			}
		})
	}
	if _, err := ParseDump([]byte("INSERT INTO t (a) VALUES (1); INSERT INTO t (b) VALUES (2);")); err == nil ||
		!strings.Contains(err.Error(), "different column lists") {
		t.Errorf("two column lists for one table: error = %v", err)
	}
}

// formatDump writes tables as one INSERT statement each, in the style of
// the classicmodels dump, for round-trip checks.
func formatDump(tables []Table) string {
	var b strings.Builder
	ident := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	for _, t := range tables {
		b.WriteString("insert  into " + ident(t.Name) + "(")
		for i, c := range t.Columns {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(ident(c))
		}
		b.WriteString(") values \r\r\n")
		for i, row := range t.Rows {
			if i > 0 {
				b.WriteString(",\r\r\n")
			}
			b.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				switch v := v.(type) {
				case nil:
					b.WriteString("NULL")
				case int64:
					b.WriteString(strconv.FormatInt(v, 10))
				case float64:
					b.WriteString(strconv.FormatFloat(v, 'e', -1, 64))
				case string:
					r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`)
					b.WriteString("'" + r.Replace(v) + "'")
				default:
					panic("unexpected value type")
				}
			}
			b.WriteByte(')')
		}
		b.WriteString(";\r\n")
	}
	return b.String()
}

func TestFormatRoundTripsEmbeddedDump(t *testing.T) {
	tables, err := ParseDump([]byte(Dump()))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseDump([]byte(formatDump(tables)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tables, again) {
		t.Error("formatting the parsed dump and parsing it again changed the data")
	}
}

// FuzzParseDump checks that ParseDump never panics and that whatever it
// accepts survives a format/parse round trip unchanged.
func FuzzParseDump(f *testing.F) {
	for _, s := range []string{
		"",
		"insert  into `t`(`a`,`b`) values \r\r\n(1,'x'),\r\r\n(NULL,'it''s');\r\n",
		`INSERT INTO t (s) VALUES ('a\'b'),('c\\d'),('\r\n\t\0\b\Z'),('50\%\_'),("dq \"x\"");`,
		"INSERT INTO n (v) VALUES (0),(+7),(-1.50),(.5),(2e3),(-1E-2);",
		"/*!40101 SET NAMES utf8 */;\r\nCREATE TABLE `t` (`a` int);\r\n-- c\r\n# d\r\nINSERT INTO db.`t` (`a`) VALUE (1)",
		"INSERT INTO t (a) VALUES ('abc",
		Dump()[:4000],
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		tables, err := ParseDump(src)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) && (se.Line < 1 || se.Col < 1) {
				t.Fatalf("bad error position: %v", err)
			}
			return
		}
		for _, tb := range tables {
			for _, row := range tb.Rows {
				if len(row) != len(tb.Columns) {
					t.Fatalf("table %s: row of %d values for %d columns", tb.Name, len(row), len(tb.Columns))
				}
			}
		}
		again, err := ParseDump([]byte(formatDump(tables)))
		if err != nil {
			t.Fatalf("re-parse of formatted output: %v", err)
		}
		if len(tables) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(tables, again) {
			t.Fatalf("round trip changed the data:\n%#v\n%#v", tables, again)
		}
	})
}
