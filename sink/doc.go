// Package sink delivers the pipeline's output records, and the dead letters
// of the messages that could not be processed, to a destination, and tells
// the source when it may acknowledge them.
//
// # Handing batches in
//
// A stream source hands out messages in batches, each with an
// acknowledgement. The pipeline turns every message of a batch into one
// Record (or one ErrorRecord, with the reason) and hands the result to the
// sink together with the acknowledgement:
//
//	err := s.Write(ctx, sink.Batch{
//		Records: recs,   // one JSON object each, ID = the message's stable ID
//		Errors:  failed, // malformed input, with the reason
//		Ack:     func(ctx context.Context) error { return msgs.AckSync(ctx) },
//		Redelivered: msgs.Redelivered(),
//	})
//
// Write returns as soon as the sink has taken the batch. The sink buffers
// records by a batch.Policy (Firehose's buffering hints: a size and an
// interval, whichever comes first; DefaultPolicy is 5 MiB / 60 s), writes
// each flush through a Writer, and calls the Ack of every batch the flush
// completes, in the order the batches were handed in — never before the
// flush is durable. A flush holds whole batches; a batch with nothing to
// write (every message already written) is acknowledged in its turn.
//
// Memory is bounded: Write blocks while the bytes handed in but not yet
// acknowledged reach Options.MaxInFlight. While the destination fails (a lake
// that is down), the sink retries the same flush with exponential backoff
// and jitter, for as long as it takes; it never drops a record and never
// acknowledges early, and Write blocks once the limit is reached, which
// stops the source. When the destination comes back, the backlog drains in
// order.
//
// Close stops intake, flushes what is buffered, waits until everything is
// durable and acknowledged, and returns; if its context ends first, what is
// in flight stays unacknowledged and the source delivers it again.
//
// # Exactly once across crashes
//
// A source redelivers what was not acknowledged: after a crash, after an
// acknowledgement that was lost, after an ack wait expired while the lake
// was down. A message redelivered after its output was written must not be
// written again, even though the new run groups messages differently (other
// batches, other flushes, other times, so other object names): naming
// objects after their content cannot help. Buffered therefore deduplicates
// by Record ID, at two levels.
//
// In one process, an ID already in flight or written is dropped, and its
// batch is acknowledged after the flush that holds the first copy. IDs stay
// known until their batch is acknowledged and Options.Retain has passed, to
// catch copies the source sent before it received the acknowledgement.
//
// Across processes, a Writer that implements Ledger keeps a durable ledger
// next to the output. The lake writer (sink/lake) does it this way, for
// every flush:
//
//  1. put a ledger entry naming the flush's objects and the IDs in each;
//  2. put the error-records object, then the records object (each Put is
//     atomic and durable when it returns);
//  3. acknowledge the batches;
//  4. once every batch holding one of its IDs is acknowledged, record that
//     with the entry (Ledger.Acknowledge: one small Put per flush);
//  5. Retain after the acknowledgements succeeded, delete the entry.
//
// When a sink starts, it reads every entry left behind and keeps, for each,
// the IDs of the objects that exist: those outputs are durable, whether or
// not their acknowledgement reached the source, so their IDs are dropped
// when redelivered. An entry whose objects do not exist describes a flush
// that never completed; its IDs are written again, once. A crash between
// any two steps, or in the middle of one (atomic Put), leaves each ID
// either in an existing object that the ledger names, or in none: every
// input message ends up as exactly one output record or one error record.
//
// Entries left by stopped runs are retired, not kept for the horizon, so
// that a crash loop cannot grow the ledger: an entry recorded as
// acknowledged goes once Retain has passed since its acknowledgement; any
// other goes once each of its IDs has either come back and been
// acknowledged (and, for IDs whose objects do not exist, written again) or
// been acknowledged by the source before — which the sink asks the source
// about (Options.Acknowledged; the pipeline sets it from a source that can
// tell, such as a JetStream consumer's acknowledgement floor). Without
// Options.Acknowledged, an entry whose run died between acknowledging and
// recording it stays until Options.Horizon.
//
// The guarantee holds under these assumptions, which the deployment must
// meet:
//
//   - IDs are stable across redeliveries and unique per input message (a
//     JetStream stream sequence, a Kafka topic/partition/offset, a Kinesis
//     shard and sequence number), and a message is always turned into the
//     same kind of output; the first one written wins.
//   - The destination's Put is atomic and durable when it returns, and a
//     read after a write sees it (the lake contract; S3 is strongly
//     consistent).
//   - An acknowledgement that returns nil is recorded by the source (use
//     JetStream's AckSync, a synchronous Kafka commit, a Kinesis
//     checkpoint); one that fails keeps its entry until Horizon.
//   - A source redelivers only what the worker holding it can no longer
//     acknowledge: after that worker stopped, or after an ack wait longer
//     than its longest stall. Workers that share a source share the ledger
//     (same lake, prefixes and stream name); a redelivered batch, marked
//     Batch.Redelivered, makes the sink re-read the ledger first (at most
//     once a second, so a redelivery must come at least a second after its
//     previous holder stopped). Two live workers holding the same message
//     at once can both write it.
//   - Redeliveries come within Options.Horizon of the original write
//     (default 24 h), and a redelivered copy reaches the sink within
//     Options.Retain of the acknowledgement of the original (default 30
//     s), or before it.
//
// A Writer without a ledger (Firehose, whose PutRecordBatch has no
// idempotency key) gives at-least-once delivery across crashes, and
// exactly-once within one run.
package sink
