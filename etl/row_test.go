package etl

import "testing"

func TestParseDecimal2(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"21000.00", 2100000, false},
		{"0.5", 50, false},
		{"-3.25", -325, false},
		{"117", 11700, false},
		{"1.999", 200, false},
		{"0.004", 0, false},
		{"0.005", 1, false},
		{"2.1e+06", 210000000, false},
		{"95.7", 9570, false},
		{" 12.5 ", 1250, false},
		{"99999999.99", 9999999999, false},
		{"100000000.00", 0, true},
		{"abc", 0, true},
		{"", 0, true},
		{"NaN", 0, true},
		{"1.2.3", 0, true},
	}
	for _, c := range cases {
		got, err := parseDecimal2([]byte(c.in))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseDecimal2(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseInt32(t *testing.T) {
	cases := []struct {
		in   string
		want int32
		err  bool
	}{
		{"7", 7, false}, {"-2", -2, false}, {"7.0", 7, false}, {"7.5", 0, true},
		{"2147483648", 0, true}, {"x", 0, true},
	}
	for _, c := range cases {
		got, err := parseInt32([]byte(c.in))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseInt32(%q) = %d, %v; want %d, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzParseDecimal2(f *testing.F) {
	for _, s := range []string{"21000.00", "-1.5", "1e3", "0.005", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseDecimal2([]byte(s))
		if err == nil && (v <= -maxDecimal10_2 || v >= maxDecimal10_2) {
			t.Fatalf("parseDecimal2(%q) = %d accepted outside DECIMAL(10,2)", s, v)
		}
	})
}
