package api

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInternalErrorsAreLogged: every 500 leaves its cause in the log (the
// client only sees "internal"): an answer JSON cannot encode, an error the
// API maps to 500, and a panic.
func TestInternalErrorsAreLogged(t *testing.T) {
	var logs bytes.Buffer
	s, err := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    func(http.ResponseWriter, *http.Request) *apiError
		want string
	}{
		{"unencodable", func(w http.ResponseWriter, _ *http.Request) *apiError {
			writeJSON(w, http.StatusOK, []float64{1, math.Inf(1)})
			return nil
		}, "cannot encode the []float64 response: json: unsupported value: +Inf"},
		{"engine", func(w http.ResponseWriter, r *http.Request) *apiError {
			return engineError(r.Context(), errors.New("disk on fire"), "")
		}, "disk on fire"},
		{"panic", func(http.ResponseWriter, *http.Request) *apiError { panic("nil map") }, "panic: nil map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			s.wrap(route{name: "/" + tc.name, h: tc.h}).ServeHTTP(rec, httptest.NewRequest("GET", "/"+tc.name, nil))
			if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
				t.Fatalf("answered %d %s, want a 500 internal error", rec.Code, rec.Body)
			}
			line := ""
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "api: request") {
					line = l
				}
			}
			if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "code=500") || !strings.Contains(line, tc.want) {
				t.Errorf("request log line %q does not give the cause %q", line, tc.want)
			}
		})
	}
}
