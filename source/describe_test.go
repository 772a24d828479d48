package source_test

import (
	"testing"

	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/source/mysql"
	"github.com/recoflow/recoflow/source/sqlite"
)

func TestClassOf(t *testing.T) {
	for declared, want := range map[string]source.Class{
		"int(11)": source.ClassInteger, "INTEGER": source.ClassInteger, "bigint unsigned": source.ClassInteger,
		"smallint(6)": source.ClassInteger, "tinyint(1)": source.ClassInteger, "UNSIGNED BIG INT": source.ClassInteger,
		"decimal(10,2)": source.ClassDecimal, "NUMERIC": source.ClassDecimal, "DECIMAL(10,2)": source.ClassDecimal,
		"double": source.ClassFloat, "REAL": source.ClassFloat, "float": source.ClassFloat, "DOUBLE PRECISION": source.ClassFloat,
		"varchar(50)": source.ClassText, "TEXT": source.ClassText, "mediumtext": source.ClassText, "enum('a','b')": source.ClassText,
		"VARYING CHARACTER(20)": source.ClassText, "NATIVE CHARACTER(70)": source.ClassText,
		"date": source.ClassTime, "DATETIME": source.ClassTime, "timestamp": source.ClassTime,
		"mediumblob": source.ClassBinary, "BLOB": source.ClassBinary, "varbinary(16)": source.ClassBinary,
		"": source.ClassOther, "geometry": source.ClassOther,
	} {
		if got := source.ClassOf(declared); got != want {
			t.Errorf("ClassOf(%q) = %s, want %s", declared, got, want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tt := range []struct {
		d    source.Dialect
		in   string
		want string
	}{
		{sqlite.Dialect{}, "order", `"order"`},
		{sqlite.Dialect{}, `shop "users"`, `"shop ""users"""`},
		{mysql.Dialect{}, "order", "`order`"},
		{mysql.Dialect{}, "shop `users`", "`shop ``users```"},
	} {
		if got := tt.d.Quote(tt.in); got != tt.want {
			t.Errorf("%s Quote(%q) = %s, want %s", tt.d.Name(), tt.in, got, tt.want)
		}
	}
}
