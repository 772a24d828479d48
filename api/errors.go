package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
	"github.com/recoflow/recoflow/vector"
)

// Error codes of the JSON error body {"error":{"code","message","field"}}.
const (
	CodeMalformedJSON     = "malformed_json"      // 400: the body is not JSON
	CodeInvalidBody       = "invalid_body"        // 400: JSON of the wrong shape (not an array, too many entries)
	CodeMissingField      = "missing_field"       // 400: a required field is absent; field names it
	CodeInvalidField      = "invalid_field"       // 400: a field has the wrong type or value; field names it
	CodeMissingParameter  = "missing_parameter"   // 400: a required query parameter is absent
	CodeInvalidParameter  = "invalid_parameter"   // 400: a query parameter is malformed or out of range
	CodeDimensionMismatch = "dimension_mismatch"  // 400: an embedding of the wrong length; 503: model and store differ
	CodeUnauthorized      = "unauthorized"        // 401: missing or wrong bearer token
	CodeUnknownItem       = "unknown_item"        // 404: the product is not in the model's vectors
	CodeNotFound          = "not_found"           // 404: no such route
	CodeMethodNotAllowed  = "method_not_allowed"  // 405
	CodeBodyTooLarge      = "body_too_large"      // 413
	CodeInternal          = "internal"            // 500
	CodeNotReady          = "not_ready"           // 503: the engine is loading
	CodeNoModel           = "no_model"            // 503: the lake has no committed model
	CodeVersionMismatch   = "version_mismatch"    // 503: the store holds another model version
	CodeStoreUnavailable  = "store_unavailable"   // 503: the vector store is down and there is no fallback
	CodeStoreEmpty        = "store_empty"         // 503: no vectors loaded and there is no fallback
	CodeStoreTimeout      = "store_timeout"       // 503: the vector store is too slow and there is no fallback
	CodeTimeout           = "timeout"             // 503: the request took longer than the server allows
	CodeCanceled          = "canceled"            // 503: the client went away
	CodeUnavailable       = "service_unavailable" // 503: other reasons the engine cannot answer
)

// apiError is an error response.
type apiError struct {
	status     int
	code       string
	message    string
	field      string
	retryAfter bool
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, field, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, field: field, message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON form of an error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *apiError) detail() *errorDetail {
	return &errorDetail{Code: e.code, Message: e.message, Field: e.field}
}

// writeError sends e as JSON, with Retry-After on 503s.
func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusServiceUnavailable || e.retryAfter {
		w.Header().Set("Retry-After", strconv.Itoa(int((s.opts.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="recoflow"`)
	}
	writeJSON(w, e.status, errorBody{Error: *e.detail()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		// A bug (an answer JSON cannot hold): keep the cause for the log.
		if sw, ok := w.(*statusWriter); ok {
			sw.cause = fmt.Sprintf("cannot encode the %T response: %v", v, err)
		}
		status = http.StatusInternalServerError
		data = []byte(`{"error":{"code":"internal","message":"cannot encode the response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// engineError maps an error of the engine to a response. field names the
// input the error is about (item_id, embedding), if any.
func engineError(ctx context.Context, err error, field string) *apiError {
	switch {
	case errors.Is(err, recommend.ErrUnknownItem):
		return errorf(http.StatusNotFound, CodeUnknownItem, field, "%s: %v", field, err)
	case errors.Is(err, recommend.ErrDimension):
		return errorf(http.StatusBadRequest, CodeDimensionMismatch, field, "%v", err)
	case errors.Is(err, recommend.ErrInvalid):
		return errorf(http.StatusBadRequest, CodeInvalidField, field, "%v", err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return errorf(http.StatusServiceUnavailable, CodeTimeout, "", "the request took longer than the server allows: %v", err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errorf(http.StatusServiceUnavailable, CodeCanceled, "", "the request was canceled: %v", err)
	case errors.Is(err, recommend.ErrUnavailable):
		return unavailable(err)
	default:
		return errorf(http.StatusInternalServerError, CodeInternal, "", "%v", err)
	}
}

// unavailable maps why the engine cannot answer to a 503.
func unavailable(err error) *apiError {
	code := CodeUnavailable
	switch {
	case errors.Is(err, vector.ErrDimension):
		code = CodeDimensionMismatch
	case errors.Is(err, recommend.ErrVersionMismatch):
		code = CodeVersionMismatch
	case errors.Is(err, model.ErrNoModel):
		code = CodeNoModel
	case errors.Is(err, vector.ErrUnavailable):
		code = CodeStoreUnavailable
	case errors.Is(err, vector.ErrEmpty):
		code = CodeStoreEmpty
	case errors.Is(err, context.DeadlineExceeded):
		code = CodeStoreTimeout
	}
	return errorf(http.StatusServiceUnavailable, code, "", "%v", err)
}
