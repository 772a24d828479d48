// Package stream is recoflow's view of an event stream: a Source that hands
// out batches of messages with an acknowledgement function, and a Producer
// that publishes keyed messages.
//
// Backends live in subpackages — stream/nats (JetStream, embedded or a real
// server), stream/kafka (franz-go consumer groups), stream/kinesis
// (aws-sdk-go-v2, every shard, durable checkpoints) — and are picked from a
// URL by internal/connect. Callers see only the interfaces, Message and the
// sentinel errors here, never a client library's types.
//
// # Delivery: at least once, with a stable ID
//
// A Source delivers every message at least once. Driving one looks like
// this:
//
//	for {
//		batch, ack, err := src.ReadBatch(ctx) // blocks until ≥1 message
//		if err != nil {
//			return err // ctx's error, ErrClosed, or a broker failure
//		}
//		for _, m := range batch {
//			out.Add(m.ID, transform(m.Data)) // the sink buffers, keyed by m.ID
//		}
//		out.OnDurable(func() { ack(ctx) }) // ack once the outputs are durable
//	}
//
// Call ack only after every output derived from the batch (a result or a
// dead-letter record) is durable: ack moves the source's position past the
// batch (a JetStream ack, a Kafka offset commit, a Kinesis checkpoint), and
// after it nothing in the batch is delivered again. Acks may come in any
// order and from any goroutine; a second call of the same ack does nothing.
// There is no negative ack: a batch that cannot be finished is simply not
// acked, and the engine, not the source, owns retries.
//
// A message that was handed out but not acked is delivered again:
//
//   - after the Source is closed and a new one opened on the same group
//     (every backend; Kafka and Kinesis resume from the last committed
//     position, so acked messages that follow an unacked one in the same
//     partition are delivered again too);
//   - with JetStream, also while running: to any consumer of the group
//     once AckWait passes without an ack (the Source extends AckWait for
//     messages it holds, so this happens when a process dies), and at once
//     when a Source is closed with messages unacked;
//   - with Kafka, when a rebalance moves its partition to another member
//     before the ack.
//
// A redelivered message carries the same Message.ID as the first time. IDs
// are unique per message within a stream, so a sink that records which IDs
// its durable outputs hold turns at-least-once delivery into exactly one
// output per input.
//
// # Shutdown
//
// Stop calling ReadBatch (cancel its ctx), let the sink flush what it holds
// and call the acks of what it made durable, then Close the Source. What is
// still unacked at Close is delivered again later — the sink's IDs keep it
// from being output twice. ReadBatch returns ErrClosed once the Source is
// closed, and acks called after Close fail with ErrClosed.
//
// # Backpressure
//
// A Source hands out at most MaxInFlight unacked messages: ReadBatch blocks
// (until an ack or ctx ends) rather than read more. So memory is bounded by
// MaxInFlight messages, plus each backend's small read-ahead. Set
// MaxInFlight above what the sink may hold before it flushes
// (events per second × flush interval); with less, throughput is capped at
// MaxInFlight per flush interval, but nothing deadlocks as long as the sink
// flushes on a timer.
package stream
