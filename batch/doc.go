// Package batch is the one batching policy shared by every recoflow sink:
// flush when a buffer holds Count records, or Bytes bytes, or when its oldest
// record has waited Period — whichever comes first. It is the policy behind
// Firehose's buffering hints (size and interval) and Benthos' batch policies.
//
// A Batcher only counts and tells time; it holds no records. A sink keeps its
// own buffer and asks the Batcher what to do:
//
//	b := batch.New(batch.Policy{Bytes: 5 << 20, Period: time.Second}, nil)
//	if !b.Fits(1, int64(len(rec))) {
//		flush() // adding rec would overflow the size: flush first
//		b.Reset()
//	}
//	if b.Add(1, int64(len(rec))) { // true: the buffer is now full
//		flush()
//		b.Reset()
//	}
//	// and when the timer set to b.Deadline() fires:
//	if b.Due() {
//		flush()
//		b.Reset()
//	}
//
// The clock is injected (New's now argument), so tests drive the period
// without sleeping.
package batch
