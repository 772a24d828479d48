package dashboard

import (
	"slices"
	"sync"
	"time"
)

// Live keeps the stream's throughput and publish-to-compute latency per
// second for the last few minutes: the time from each event's arrival in
// the broker to its recommendations being computed, which includes the time
// it waited in the stream (pipeline.MetricPublishToCompute; the computation
// alone is pipeline.MetricCompute). Its methods are safe for concurrent use.
type Live struct {
	now func() time.Time // the clock; nil: time.Now

	mu      sync.Mutex
	buckets []bucket // oldest first, at most maxBuckets
	total   int64
}

const maxBuckets = 180

type bucket struct {
	sec  int64
	n    int64
	lats []time.Duration
}

// Point is one second of the stream: events computed and the percentiles
// of their publish-to-compute latency, in milliseconds.
type Point struct {
	Time   int64   `json:"t"` // Unix seconds
	Events int64   `json:"events"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
}

// Record adds a computed batch of n events with their publish-to-compute
// latencies; it fits pipeline.Options.OnComputed.
func (l *Live) Record(n int, lats []time.Duration) {
	sec := l.clock().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total += int64(n)
	if k := len(l.buckets); k == 0 || l.buckets[k-1].sec != sec {
		l.buckets = append(l.buckets, bucket{sec: sec})
		if len(l.buckets) > maxBuckets {
			l.buckets = slices.Delete(l.buckets, 0, len(l.buckets)-maxBuckets)
		}
	}
	b := &l.buckets[len(l.buckets)-1]
	b.n += int64(n)
	if len(b.lats) < 100000 {
		b.lats = append(b.lats, lats...)
	}
}

// Total returns the number of events computed so far.
func (l *Live) Total() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

func (l *Live) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// seriesSeconds is the length of the Series.
const seriesSeconds = 120

// Series returns one point per whole second of the last two minutes, the
// oldest first, seconds without events included as zeros. The current
// second is left out: it is still being counted, and its partial count
// would read as a drop in throughput.
func (l *Live) Series() []Point {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.clock().Unix() - 1 // the last whole second
	var out []Point
	i := 0
	for s := last - seriesSeconds + 1; s <= last; s++ {
		for i < len(l.buckets) && l.buckets[i].sec < s {
			i++
		}
		p := Point{Time: s}
		if i < len(l.buckets) && l.buckets[i].sec == s {
			b := &l.buckets[i]
			p.Events = b.n
			if len(b.lats) > 0 {
				ls := slices.Clone(b.lats)
				slices.Sort(ls)
				p.P50 = ms(ls[len(ls)*50/100])
				p.P99 = ms(ls[min(len(ls)-1, len(ls)*99/100)])
			}
		}
		out = append(out, p)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Stage is the state of one stage of the demo.
type Stage struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // pending, running, done, failed
	Detail   string    `json:"detail,omitempty"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
}

// Stages records the stages' states in order. Its methods are safe for
// concurrent use.
type Stages struct {
	mu   sync.Mutex
	list []Stage
}

// Set records a stage's state, adding the stage when new. A "running"
// state stamps Started; "done" and "failed" stamp Finished.
func (s *Stages) Set(name, state, detail string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.list, func(st Stage) bool { return st.Name == name })
	if i < 0 {
		s.list = append(s.list, Stage{Name: name})
		i = len(s.list) - 1
	}
	st := &s.list[i]
	st.State, st.Detail, st.Error = state, detail, ""
	if err != nil {
		st.Error = err.Error()
	}
	switch state {
	case "running":
		st.Started, st.Finished = time.Now(), time.Time{}
	case "done", "failed", "stopped":
		st.Finished = time.Now()
	}
}

// List returns the stages in the order they were first set.
func (s *Stages) List() []Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}
