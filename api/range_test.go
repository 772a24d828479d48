package api_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/recoflow/recoflow/api"
	"github.com/recoflow/recoflow/recommend"
)

// TestCreditLimitRange: a creditlimit beyond ±api.MaxCreditLimit is a 400
// naming the field and the allowed range on every route that takes user
// features (POST /user_embeddings answered 500 "cannot encode the response"
// for 1e41, and /v1/recommendations blamed a field the client never sent).
func TestCreditLimitRange(t *testing.T) {
	f := getFixture(t)
	ts := newServer(t, f.engine(t, nil, recommend.Options{}), api.Options{})
	user := func(field, value string) string {
		return fmt.Sprintf(`{"city":"Lyon","country":"France","%s":%s}`, field, value)
	}
	for _, v := range []struct{ field, value string }{
		{"creditlimit", "1e41"}, {"creditlimit", "-1e41"}, {"creditlimit", "1.5e15"}, {"creditlimit", `"3e38"`},
		{"credit_limit", "-2e20"}, {"creditLimit", "1e300"},
	} {
		for _, rt := range []struct{ path, body, field string }{
			{"/user_embeddings", "[" + user("creditlimit", "1") + "," + user(v.field, v.value) + "]", "[1]." + v.field},
			{"/v1/recommendations", `{"user":` + user(v.field, v.value) + `}`, "user." + v.field},
			{"/v1/recommendations/batch", `{"requests":[{"user":` + user(v.field, v.value) + `}]}`, "requests[0].user." + v.field},
		} {
			t.Run(rt.path+" "+v.field+"="+v.value, func(t *testing.T) {
				r := ts.do(t, "POST", rt.path, rt.body)
				if r.status != 400 {
					t.Fatalf("got %s, want 400", r)
				}
				code, field, msg := r.errorOf(t)
				if code != api.CodeInvalidField || field != rt.field || !strings.Contains(msg, "want -1e+15 to 1e+15") {
					t.Errorf("error %s / %s / %q; want %s naming %s and the range", code, field, msg, api.CodeInvalidField, rt.field)
				}
			})
		}
	}
	// The bounds themselves are accepted and give finite embeddings.
	for _, v := range []float64{api.MaxCreditLimit, -api.MaxCreditLimit, 0} {
		r := ts.do(t, "POST", "/user_embeddings", fmt.Sprintf(`[{"city":"Lyon","country":"France","creditlimit":%g}]`, v))
		if r.status != 200 {
			t.Fatalf("creditlimit %g: %s", v, r)
		}
		for _, x := range decode[[]embeddingObj](t, r)[0].Embedding {
			if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
				t.Fatalf("creditlimit %g: non-finite embedding", v)
			}
		}
		r = ts.do(t, "POST", "/v1/recommendations", fmt.Sprintf(`{"user":{"city":"Lyon","country":"France","creditlimit":%g}}`, v))
		if r.status != 200 {
			t.Fatalf("v1 creditlimit %g: %s", v, r)
		}
	}
	if strings.Contains(ts.logs.String(), "code=500") {
		t.Errorf("a request answered 500:\n%s", ts.logs)
	}
}
