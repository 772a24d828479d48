package dataset

import (
	"reflect"
	"testing"
)

// The built-in spec as a Go value and as the file `recoflow spec show`
// prints are the same spec, it is complete (defaults change nothing), and
// it survives a trip through YAML.
func TestClassicRoundTrip(t *testing.T) {
	want := Classic()
	if err := want.Validate(); err != nil {
		t.Fatalf("the built-in spec is invalid: %v", err)
	}
	if d := want.WithDefaults(); !reflect.DeepEqual(d, want) {
		t.Errorf("defaults change the built-in spec:\n got %+v\nwant %+v", d, want)
	}

	fromFile, err := Parse(ClassicYAML(), "classicmodels.yaml")
	if err != nil {
		t.Fatalf("parse the built-in YAML: %v", err)
	}
	fromFile.origin = nil
	if !reflect.DeepEqual(*fromFile, want) {
		t.Errorf("classicmodels.yaml differs from Classic():\n got %+v\nwant %+v", *fromFile, want)
	}

	out, err := Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "marshalled")
	if err != nil {
		t.Fatalf("parse the marshalled spec: %v\n%s", err, out)
	}
	back.origin = nil
	if !reflect.DeepEqual(*back, want) {
		t.Errorf("round trip through YAML changed the spec:\n%s", out)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"customerNumber": "customer_number", "creditLimit": "credit_limit", "productCode": "product_code",
		"MSRP": "msrp", "city": "city", "user_id": "user_id", "Credit Limit": "credit_limit", "HTTPStatus": "http_status",
	} {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
