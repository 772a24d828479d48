package api

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/model"
	"github.com/recoflow/recoflow/recommend"
)

// specID is the key of a user or item object that holds its id; every
// other key names one of the spec's features of that side.
const specID = "id"

// specUser reads a spec model's user object: {"id": "…", "<feature>": …},
// every key optional (specEntity).
func specUser(o object, e *recommend.Engine) (id string, f model.Features, ae *apiError) {
	return specEntity(o, e, "user", e.UserSchema())
}

// specItem reads an item object of the model's item features (for a
// model of the lab's dataset, the lab's: productLine, productScale,
// quantityInStock, buyPrice, MSRP), as specEntity.
func specItem(o object, e *recommend.Engine) (id string, f model.Features, ae *apiError) {
	return specEntity(o, e, "item", e.ItemSchema())
}

// specEntity reads a user or item object (side names which) of schema s:
// {"id": "…", "<feature>": …}, every key optional. A numeric feature takes
// a JSON number, a categorical or text feature a string, a
// multi-categorical one a string delimited as in its column or an array of
// strings; null leaves the feature out. The id is a string (or a whole
// number, for a spec with integer ids). An unknown key or a value of the
// wrong type is a 400 naming its field.
func specEntity(o object, e *recommend.Engine, side string, s *recommend.FeatureSchema) (id string, f model.Features, ae *apiError) {
	f = s.Empty()
	keys := make([]string, 0, len(o.fields))
	for k := range o.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same error for the same body
	for _, k := range keys {
		raw := o.fields[k]
		path := joinPath(o.path, k)
		if k == specID {
			if id, ae = readID(raw, path); ae != nil {
				return "", f, ae
			}
			continue
		}
		ft, ok := s.Lookup(k)
		if !ok {
			return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s: unknown field: model version %s takes %s's %s",
				path, versionName(e), article(side), strings.Join(append([]string{specID}, s.Names()...), ", "))
		}
		kind := jsonKind(raw)
		if kind == "null" {
			continue
		}
		switch {
		case ft.Numeric():
			var x float64
			if kind != "a number" || json.Unmarshal(raw, &x) != nil {
				return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be a number (numeric feature), not %s", path, kind)
			}
			if math.Abs(x) > MaxFeatureNumber {
				return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s = %g is out of range: want %g to %g", path, x, -MaxFeatureNumber, MaxFeatureNumber)
			}
			s.SetNumber(&f, ft, x)
		case kind == "a string":
			var v string
			json.Unmarshal(raw, &v)
			s.SetText(&f, ft, v)
		case kind == "an array" && ft.Delimiter != "":
			list, ae := o.strings(k)
			if ae != nil {
				return "", f, ae
			}
			if err := s.SetList(&f, ft, list); err != nil {
				return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s: %v", path, err)
			}
		case ft.Delimiter != "":
			return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path,
				"%s must be a string (%q-delimited) or an array of strings (%s feature), not %s", path, ft.Delimiter, ft.Kind, kind)
		default:
			return "", f, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be a string (%s feature), not %s", path, ft.Kind, kind)
		}
	}
	return id, f, nil
}

// article returns "a user" or "an item".
func article(side string) string {
	if strings.IndexByte("aeiou", side[0]) >= 0 {
		return "an " + side
	}
	return "a " + side
}

// readID reads a user or item id: a non-empty string, or a whole number.
func readID(raw json.RawMessage, path string) (string, *apiError) {
	switch jsonKind(raw) {
	case "a string":
		var s string
		json.Unmarshal(raw, &s)
		if s == "" {
			return "", errorf(http.StatusBadRequest, CodeInvalidField, path, "%s is empty", path)
		}
		return s, nil
	case "a number":
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			if v, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
				return strconv.FormatInt(v, 10), nil
			}
		}
		return "", errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be a string or a whole number, not %s", path, raw)
	}
	return "", errorf(http.StatusBadRequest, CodeInvalidField, path, "%s must be a string, not %s", path, jsonKind(raw))
}

// embedSpecUser embeds a spec model's user, or answers a 400 naming the
// user object at path when the model gives a non-finite embedding.
func embedSpecUser(e *recommend.Engine, id string, f model.Features, path string) ([]float32, *apiError) {
	v, err := e.UserEmbeddingOf(id, f)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeInvalidField, path, "%s: %v", path, err)
	}
	for _, x := range v {
		if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
			return nil, errorf(http.StatusBadRequest, CodeInvalidField, path,
				"%s: model version %s gives a non-finite embedding for these features", path, versionName(e))
		}
	}
	return v, nil
}

func versionName(e *recommend.Engine) string {
	if v := e.Model().Version(); v != "" {
		return v
	}
	return "(unsaved)"
}
