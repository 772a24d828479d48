package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sentinel errors. Backends wrap them; test with errors.Is.
var (
	// ErrClosed is returned by ReadBatch, an ack, Publish or Flush after
	// Close. An ack that fails with it leaves its batch to be delivered
	// again.
	ErrClosed = errors.New("stream closed")
	// ErrNotFound is returned when the stream, topic or consumer named by
	// the URL does not exist and the backend does not create it.
	ErrNotFound = errors.New("stream not found")
)

// Message is one record read from a stream.
type Message struct {
	// Data is the record's payload, the caller's to keep (not reused by the
	// Source).
	Data []byte
	// Key is the partition key the record was published with (the session
	// id for shopper events); empty if it had none.
	Key string
	// ID identifies the record within the stream, stable across
	// redeliveries and unique per record: "nats:<stream>:<sequence>",
	// "kafka:<topic>:<partition>:<offset>" or
	// "kinesis:<stream>:<shard>:<sequence number>". Sinks deduplicate by it.
	ID string
	// Partition is where the record lives: the JetStream stream name, the
	// Kafka "topic/partition" or the Kinesis shard id.
	Partition string
	// Position is the record's place in its partition: the JetStream stream
	// sequence, the Kafka offset or the Kinesis sequence number, in
	// decimal.
	Position string
	// Time is when the broker stored the record (zero when unknown); the
	// time from publish to output is measured from it.
	Time time.Time
}

// Batch is a group of messages handed out together, acknowledged together.
type Batch []Message

// AckFunc acknowledges a batch: the source's position moves past it and it
// is not delivered again. Call it only once every output holding the batch
// is durable. It blocks until the broker has recorded the acknowledgement
// or ctx ends, and is safe to call from any goroutine, in any order relative
// to other batches, and more than once (later calls do nothing and return
// nil, or the first call's error).
//
// An error means the acknowledgement may not have been recorded (broker
// unreachable, ctx ended, the Source closed, a Kafka partition moved to
// another group member): the batch may be delivered again, with the same
// IDs. Log it and go on; do not retry the outputs.
type AckFunc func(ctx context.Context) error

// Source reads a stream as a member of a consumer group: every Source
// opened with the same group shares the work, each message going to one of
// them (see the package comment for the exact delivery guarantees).
type Source interface {
	// ReadBatch blocks until at least one message is available and returns
	// up to MaxBatch of them with the function that acknowledges them all.
	// It also blocks, without reading, while MaxInFlight messages are
	// handed out and unacked.
	//
	// ctx covers only the wait: when it ends first, ReadBatch returns
	// ctx.Err() and no messages. After Close it returns ErrClosed. Other
	// errors (a broker unreachable) are usually transient: calling ReadBatch
	// again is safe, after a backoff the caller chooses. A batch is never
	// returned together with an error. ReadBatch is not safe for
	// concurrent use; call it from one goroutine.
	ReadBatch(ctx context.Context) (Batch, AckFunc, error)
	// Close stops reading and releases the connection. Messages handed out
	// and not yet acked are delivered again, to this group, later; acks
	// made after Close fail with ErrClosed. Close blocks until done or ctx
	// ends; calling it again returns nil.
	Close(ctx context.Context) error
	// String describes the source for logs, without secrets.
	String() string
}

// Producer publishes records to a stream.
type Producer interface {
	// Publish hands one record, with its partition key, to the broker. It
	// may return before the record is stored (Flush waits for that) and may
	// block while too much is unconfirmed. data may be reused once Publish
	// returns. An error from an earlier unconfirmed record may be returned
	// by a later Publish or by Flush. Publish and Flush are safe for
	// concurrent use.
	Publish(ctx context.Context, key string, data []byte) error
	// Flush blocks until every record published so far is stored by the
	// broker, or ctx ends, and returns the first error of any of them since
	// the last Flush.
	Flush(ctx context.Context) error
	// Close flushes, then releases the connection; calling it again
	// returns nil.
	Close(ctx context.Context) error
	// String describes the destination for logs, without secrets.
	String() string
}

// Defaults of SourceOptions.
const (
	DefaultMaxBatch    = 500
	DefaultMaxInFlight = 100_000
)

// SourceOptions are the settings every Source has.
type SourceOptions struct {
	// MaxBatch is the most messages one ReadBatch returns; default
	// DefaultMaxBatch.
	MaxBatch int
	// MaxInFlight is the most messages handed out and not yet acked;
	// default DefaultMaxInFlight. It must be at least MaxBatch.
	MaxInFlight int
	// Logger receives the source's log lines; nil: discard.
	Logger *slog.Logger
}

// WithDefaults fills zero fields and checks the rest.
func (o SourceOptions) WithDefaults() (SourceOptions, error) {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = max(DefaultMaxInFlight, o.MaxBatch)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.MaxBatch < 0:
		return o, fmt.Errorf("stream: MaxBatch %d is negative", o.MaxBatch)
	case o.MaxInFlight < o.MaxBatch:
		return o, fmt.Errorf("stream: MaxInFlight %d is less than MaxBatch %d", o.MaxInFlight, o.MaxBatch)
	}
	return o, nil
}
