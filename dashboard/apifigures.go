package dashboard

import (
	"cmp"
	"math"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The API's metrics the dashboard summarises (see package api).
const (
	metricRequests  = "recoflow_api_requests_total"
	metricDuration  = "recoflow_api_request_duration_seconds"
	metricFallbacks = "recoflow_api_fallbacks_total"
	metricInFlight  = "recoflow_api_requests_in_flight"
	metricLoaded    = "recoflow_api_engine_loaded"
)

// APIFigures are the API's request figures since the process started.
type APIFigures struct {
	Requests     int64          `json:"requests"`
	ClientErrors int64          `json:"client_errors"` // 4xx
	ServerErrors int64          `json:"server_errors"` // 5xx
	Fallbacks    int64          `json:"fallbacks"`
	InFlight     int64          `json:"in_flight"`
	EngineLoaded bool           `json:"engine_loaded"`
	Routes       []RouteFigures `json:"routes"`
}

// RouteFigures are one endpoint's figures. P99MS is the upper bound of the
// latency histogram's bucket that holds the 99th percentile (+Inf when it
// is the last; -1 then, as JSON has no infinity).
type RouteFigures struct {
	Route        string  `json:"route"`
	Requests     int64   `json:"requests"`
	ClientErrors int64   `json:"client_errors"`
	ServerErrors int64   `json:"server_errors"`
	Fallbacks    int64   `json:"fallbacks"`
	MeanMS       float64 `json:"mean_ms"`
	P99MS        float64 `json:"p99_le_ms"`
}

// apiFigures summarises the API's metrics in g by endpoint, busiest first.
func apiFigures(g prometheus.Gatherer) (*APIFigures, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	out := &APIFigures{}
	routes := map[string]*RouteFigures{}
	type hist struct {
		count  uint64
		sum    float64
		bounds map[float64]uint64 // upper bound → cumulative count
	}
	hists := map[string]*hist{}
	route := func(m *dto.Metric) *RouteFigures {
		name := label(m, "route")
		r := routes[name]
		if r == nil {
			r = &RouteFigures{Route: name}
			routes[name] = r
		}
		return r
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case metricRequests:
				n := int64(m.GetCounter().GetValue())
				r := route(m)
				r.Requests += n
				out.Requests += n
				if code, _ := strconv.Atoi(label(m, "code")); code >= 500 {
					r.ServerErrors += n
					out.ServerErrors += n
				} else if code >= 400 {
					r.ClientErrors += n
					out.ClientErrors += n
				}
			case metricFallbacks:
				n := int64(m.GetCounter().GetValue())
				route(m).Fallbacks += n
				out.Fallbacks += n
			case metricDuration:
				name := label(m, "route")
				h := hists[name]
				if h == nil {
					h = &hist{bounds: map[float64]uint64{}}
					hists[name] = h
				}
				mh := m.GetHistogram()
				h.count += mh.GetSampleCount()
				h.sum += mh.GetSampleSum()
				for _, b := range mh.GetBucket() {
					h.bounds[b.GetUpperBound()] += b.GetCumulativeCount()
				}
			case metricInFlight:
				out.InFlight = int64(m.GetGauge().GetValue())
			case metricLoaded:
				out.EngineLoaded = m.GetGauge().GetValue() > 0
			}
		}
	}
	for name, h := range hists {
		r := routes[name]
		if r == nil || h.count == 0 {
			continue
		}
		r.MeanMS = h.sum / float64(h.count) * 1000
		r.P99MS = math.Inf(1)
		bounds := make([]float64, 0, len(h.bounds))
		for b := range h.bounds {
			bounds = append(bounds, b)
		}
		slices.Sort(bounds)
		for _, b := range bounds {
			if float64(h.bounds[b]) >= 0.99*float64(h.count) {
				r.P99MS = b * 1000
				break
			}
		}
	}
	for _, r := range routes {
		if r.Requests > 0 {
			if math.IsInf(r.P99MS, 1) {
				r.P99MS = -1 // JSON has no infinity: -1 means "above the last bucket"
			}
			out.Routes = append(out.Routes, *r)
		}
	}
	slices.SortFunc(out.Routes, func(a, b RouteFigures) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Route, b.Route))
	})
	return out, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
