package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics. Labels are bounded: route
// is a registered path (or "other"), code an HTTP status, reason one of
// recommend's fallback reasons.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	fallbacks *prometheus.CounterVec
	ready     prometheus.Gauge
	handler   http.Handler
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "recoflow", Subsystem: "api", Name: "requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "recoflow", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route and status code.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "recoflow", Subsystem: "api", Name: "requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "recoflow", Subsystem: "api", Name: "fallbacks_total",
			Help: "Answers made of the popular products instead of the model's, by route and reason.",
		}, []string{"route", "reason"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "recoflow", Subsystem: "api", Name: "engine_loaded",
			Help: "1 when a recommendation engine (model, vector store, popular products) is loaded.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inFlight, m.fallbacks, m.ready} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

// routeMetrics are the series of one route and status code.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// route returns the series of route and code, for a handler to keep.
func (m *metrics) route(route string, code int) routeMetrics {
	c := strconv.Itoa(code)
	return routeMetrics{requests: m.requests.WithLabelValues(route, c), latency: m.latency.WithLabelValues(route, c)}
}

func (m *metrics) observe(route string, code int, elapsed time.Duration) {
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(route, c).Inc()
	m.latency.WithLabelValues(route, c).Observe(elapsed.Seconds())
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) *apiError {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
