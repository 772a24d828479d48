package dataset_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/dataset"
	"github.com/recoflow/recoflow/dataset/datasettest"
	"github.com/recoflow/recoflow/seed/seedtest"
	"github.com/recoflow/recoflow/source"
)

// The built-in spec matches the seeded sample on every backend.
func TestClassicChecksAgainstSample(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := seedtest.Classicmodels(t, b)
			s := dataset.Classic()
			if err := dataset.Check(context.Background(), db, &s); err != nil {
				t.Fatalf("the built-in spec does not check against the sample: %v", err)
			}
		})
	}
}

// Describe reads the sample's schema alike on both backends: column types
// classified (decimals are decimals, also in SQLite where they are kept as
// text), primary and foreign keys.
func TestDescribeSample(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			db := seedtest.Classicmodels(t, b)
			cat, err := db.Describe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tb := range cat.Tables {
				names = append(names, tb.Name)
			}
			if want := []string{"customers", "employees", "offices", "orderdetails", "orders", "payments", "productlines", "products", "ratings"}; !slices.Equal(names, want) {
				t.Errorf("tables %v, want %v", names, want)
			}
			cust, _ := cat.Table("customers")
			for col, want := range map[string]source.Class{"customerNumber": source.ClassInteger, "city": source.ClassText,
				"creditLimit": source.ClassDecimal, "state": source.ClassText} {
				if c, ok := cust.Column(col); !ok || c.Class != want {
					t.Errorf("customers.%s = %+v, want class %s", col, c, want)
				}
			}
			if c, _ := cust.Column("state"); !c.Nullable {
				t.Errorf("customers.state not nullable")
			}
			if !slices.Equal(cust.PrimaryKey, []string{"customerNumber"}) {
				t.Errorf("customers primary key %v", cust.PrimaryKey)
			}
			od, _ := cat.Table("orderdetails")
			if !slices.Equal(od.PrimaryKey, []string{"orderNumber", "productCode"}) || len(od.ForeignKeys) != 2 {
				t.Errorf("orderdetails keys %v %+v", od.PrimaryKey, od.ForeignKeys)
			}
			orders, _ := cat.Table("orders")
			if c, _ := orders.Column("orderDate"); c.Class != source.ClassTime {
				t.Errorf("orders.orderDate = %+v, want a time", c)
			}
			if len(orders.ForeignKeys) != 1 || orders.ForeignKeys[0].Ref != "customers" || !slices.Equal(orders.ForeignKeys[0].RefColumns, []string{"customerNumber"}) {
				t.Errorf("orders foreign keys %+v", orders.ForeignKeys)
			}
		})
	}
}

func shopSpec(t *testing.T) *dataset.Spec {
	t.Helper()
	s, err := dataset.Parse([]byte(datasettest.ShopSpecYAML), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The movie shop's spec checks against the movie shop — a table named
// "order", another "shop users" — and each kind of mismatch between a spec
// and the source is named with its key path, before any row is read.
func TestCheckShop(t *testing.T) {
	for _, b := range seedtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := datasettest.Shop(t, b)
			if err := dataset.Check(ctx, db, shopSpec(t)); err != nil {
				t.Fatalf("the shop's spec does not check: %v", err)
			}
			q := db.Quote
			tests := []struct {
				name   string
				change func(s *dataset.Spec)
				want   []string
			}{
				{"a missing table", func(s *dataset.Spec) { s.Items.Table = "moviez" },
					[]string{`items.table: no table "moviez" in ` + db.String() + `; did you mean "movies"?`}},
				{"a missing interactions table", func(s *dataset.Spec) { s.Interactions.Table = "orders" },
					[]string{`interactions.table: no table "orders"`, `did you mean "order"?`}},
				{"a missing column", func(s *dataset.Spec) { s.Items.Features[1].Column = "release_yr" },
					[]string{`items.features[1].column: no column "release_yr" in table movies; did you mean "release_year"?`}},
				{"a missing id column", func(s *dataset.Spec) { s.Items.ID = "id" },
					[]string{`items.id: no column "id" in table movies`}},
				{"a missing key column", func(s *dataset.Spec) { s.Interactions.UserKey = "userid" },
					[]string{`interactions.user_key: no column "userid" in order; did you mean "user_id"?`}},
				{"a missing passthrough column", func(s *dataset.Spec) { s.Users.Passthrough = []string{"signup"} },
					[]string{`users.passthrough[0]: no column "signup" in table shop users; did you mean "signup_date"?`}},
				{"a numeric feature on a text column", func(s *dataset.Spec) { s.Items.Features[1].Column = "title" },
					[]string{"items.features[1].column: column title is ", "(text), and a numeric feature needs a number column"}},
				{"a multi-valued feature on a number column", func(s *dataset.Spec) {
					s.Items.Features[0].Column = "release_year"
					s.Items.Features[1].Column = "price"
					s.Items.Features[2].Column = "title"
					s.Items.Features[2].Kind = "categorical"
					s.Items.Features[2].Scaling = ""
				},
					[]string{"items.features[0].column: column release_year is ", "(integer), and a multi_categorical feature needs a text column"}},
				{"a string id on an integer column", func(s *dataset.Spec) { s.Items.IDType = dataset.IDString },
					[]string{"items.id_type: string, but column movie_id is ", "(integer); use id_type: integer"}},
				{"an integer id on a text column", func(s *dataset.Spec) { s.Users.IDType = dataset.IDInteger },
					[]string{"users.id_type: integer, but column user_id is ", "(text); use id_type: string"}},
				{"numeric feedback on a date", func(s *dataset.Spec) { s.Interactions.Feedback.Column = "ordered_at"; s.Interactions.Timestamp = "" },
					[]string{"interactions.feedback.column: column ordered_at is ", "(time), and feedback of kind quantity is a number"}},
				{"a join of text with numbers", func(s *dataset.Spec) {
					s.Interactions.Table = ""
					s.Interactions.Query = "SELECT o.user_id, o.user_id AS movie_ref, o.quantity, o.ordered_at FROM " + q("order") + " AS o"
					s.Interactions.ItemKey = "movie_ref"
				}, []string{"interactions.item_key: column movie_ref is ", "but items.id joins movie_id", "the join would compare text with number"}},
				{"a query that fails", func(s *dataset.Spec) { s.Interactions.Table = ""; s.Interactions.Query = "SELECT nothing FROM nowhere" },
					[]string{"interactions.query: run the query on " + db.String()}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := shopSpec(t)
					tt.change(s)
					if err := s.Validate(); err != nil {
						t.Fatalf("the changed spec is invalid on its own: %v", err)
					}
					err := dataset.Check(ctx, db, s)
					var se *dataset.Error
					if !errors.As(err, &se) {
						t.Fatalf("Check = %v, want a *dataset.Error", err)
					}
					for _, w := range tt.want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error:\n%v\nwant it to contain %q", err, w)
						}
					}
					if se.Problems[0].File != "shop.yaml" || se.Problems[0].Line == 0 {
						t.Errorf("problem not located in the spec file: %+v", se.Problems[0])
					}
				})
			}

			// Interactions given as a query work too.
			s := shopSpec(t)
			s.Interactions.Table = ""
			s.Interactions.Query = "SELECT user_id, movie_id, quantity, ordered_at FROM " + q("order") + " WHERE quantity > 0"
			if err := dataset.Check(ctx, db, s); err != nil {
				t.Errorf("a query for the interactions: %v", err)
			}
		})
	}
}
