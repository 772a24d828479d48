package sink

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned by Write once Close has been called (or the sink has
// stopped for good).
var ErrClosed = errors.New("sink closed")

// Record is one output record.
type Record struct {
	// ID identifies the input message the record comes from, stably across
	// redeliveries (a stream sequence, a Kafka partition and offset, a
	// Kinesis sequence number). The sink writes at most one record or error
	// record per ID; see the package documentation.
	ID string
	// Data is one JSON object, without a trailing newline.
	Data []byte
	// Time is when the input message reached the source (Firehose's
	// approximate arrival time). A flush is named after the oldest Time it
	// holds; the zero Time means "when the sink received it".
	Time time.Time
}

// ErrorRecord is an input message that could not be processed, with the
// reason. It goes to the dead-letter path (recommendations-errors/) and
// counts as that message's one output.
type ErrorRecord struct {
	// ID identifies the input message, as Record.ID.
	ID string
	// Raw is the input message as it arrived.
	Raw []byte
	// Reason says why it could not be processed.
	Reason string
	// Time is as Record.Time.
	Time time.Time
}

// AckFunc acknowledges a batch to its source. The sink calls it exactly
// once, and only after every record and error record of the batch is
// durable, with a context that ends when the sink is stopped for good. It
// returns nil once the source has recorded the acknowledgement (JetStream
// AckSync, a committed Kafka offset, a Kinesis checkpoint); an error means
// that the source may deliver the batch again. It must not call back into
// the sink's Write or Close.
type AckFunc func(ctx context.Context) error

// Batch is what a pipeline hands to a sink: the outputs of some input
// messages, and how to acknowledge those messages.
type Batch struct {
	// Records and Errors are the outputs; every input message of the batch
	// should appear once in one of them. Either may be empty; a batch with
	// neither is still acknowledged in its turn.
	Records []Record
	Errors  []ErrorRecord
	// Ack is called once everything in the batch is durable. It may be nil.
	Ack AckFunc
	// Redelivered tells the sink that the source may have delivered some of
	// these messages before (JetStream's delivery count above one, a Kafka
	// partition just assigned, a Kinesis shard taken over). Before writing
	// such messages, a sink with a ledger re-reads it, so that outputs
	// written by another worker that has since stopped are not written
	// again. A source that cannot tell may always set it; it costs one
	// listing of the ledger per second at most.
	Redelivered bool
}

// Sink delivers batches and acknowledges them once durable.
type Sink interface {
	// Write hands b to the sink, which owns it from then on (the caller must
	// not change its slices). It returns once the sink has taken the batch,
	// usually at once; it blocks while the bytes handed in but not yet
	// acknowledged are at the sink's limit (backpressure), until ctx is done
	// (its error is returned and the batch was not taken: do not ack it) or
	// the sink is closed (ErrClosed). Batches are acknowledged in the order
	// in which Write took them. Write is safe for concurrent use, but the
	// order between concurrent calls is whichever comes first.
	Write(ctx context.Context, b Batch) error
	// Close stops taking batches, flushes what is buffered, waits until it
	// is durable and acknowledged, and releases the sink. ctx bounds the
	// wait: when ctx is done first, Close abandons what is in flight
	// unacknowledged (the source redelivers it) and returns ctx's error.
	// Calling Close again returns at once.
	Close(ctx context.Context) error
}

// Flush is one buffer cut by the batch policy, as handed to a Writer.
type Flush struct {
	// Seq numbers the flushes of one sink from 1, in the order cut and
	// written.
	Seq uint64
	// ID is unique across sinks and runs; destinations name objects with it.
	ID string
	// Time is the oldest record time in the flush (UTC); destinations use
	// it for time-partitioned names, as Firehose uses the oldest arrival
	// time.
	Time time.Time
	// Cut is when the sink cut the buffer (UTC).
	Cut time.Time
	// Records and Errors, in the order handed in, without IDs already
	// written.
	Records []Record
	Errors  []ErrorRecord
}

// Writer makes flushes durable: it is the destination behind a Buffered
// sink (a lake prefix, a Firehose delivery stream).
type Writer interface {
	// Write stores everything in f and returns once it is durable. It blocks
	// until then or until ctx is done. On error the sink waits (exponential
	// backoff with jitter) and calls Write again with the same f, for as
	// long as it takes: Write must be safe to repeat, and should not write
	// again what an earlier attempt already delivered. Write is never called
	// concurrently, and flushes come in Seq order.
	Write(ctx context.Context, f *Flush) error
}

// Checker is implemented by writers that cannot take some records (a
// Firehose record larger than 1,000 KiB). The sink calls Check on every
// record handed in; a record it rejects becomes an error record with the
// returned error as its reason.
type Checker interface {
	Check(r Record) error
}

// Ledger is implemented by writers that remember, durably and across
// restarts, which IDs they have written: with it a Buffered sink writes
// each ID once even when the source redelivers after a crash. See the
// package documentation for the protocol.
type Ledger interface {
	// EntryKey names the ledger entry that Write records for f before it
	// writes f's objects. It does not block.
	EntryKey(f *Flush) string
	// Recover returns the ledger's entries: each entry with the IDs of
	// those of its objects that exist, the IDs of those that do not, and
	// the time Acknowledge recorded for it, if any. Entries whose key known
	// reports true are skipped (known may be nil); entries cut before since
	// are deleted and skipped. It blocks on the destination, and repeating
	// it is safe.
	Recover(ctx context.Context, since time.Time, known func(key string) bool) ([]Entry, error)
	// Acknowledge records durably, with the entry at key, that every
	// batch holding one of its IDs was acknowledged to the source by time
	// at: a later run then retires the entry once Options.Retain has passed
	// since at, instead of waiting for IDs that will never come back. It
	// blocks on the destination; repeating it is safe.
	Acknowledge(ctx context.Context, key string, at time.Time) error
	// Retire deletes the entry at key (and what Acknowledge recorded for
	// it): its IDs will not come back. Retiring a missing entry is not an
	// error.
	Retire(ctx context.Context, key string) error
}

// Entry is one ledger entry found by Recover.
type Entry struct {
	// Key is the entry's name, as EntryKey made it.
	Key string
	// Cut is when its flush was cut.
	Cut time.Time
	// IDs are the IDs of its durable records and error records.
	IDs []string
	// Unwritten are the IDs of its objects that do not exist: a flush that
	// never completed (its messages were not acknowledged and come again,
	// to be written then), or one that another worker is writing.
	Unwritten []string
	// Acked is when every batch holding one of its IDs had been
	// acknowledged (see Ledger.Acknowledge); zero when not recorded.
	Acked time.Time
}
