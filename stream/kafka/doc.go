// Package kafka is the Kafka backend of package stream, on franz-go: a
// Source that reads a topic as a member of a consumer group, and a
// Producer that publishes records keyed by session id.
//
//	src, err := kafka.NewSource(ctx, kafka.Config{Brokers: []string{"broker:9092"}, Topic: "events", Group: "recoflow"})
//
// # Scaling out
//
// Every recoflow stream process opened with the same Group joins one Kafka
// consumer group; the brokers divide the topic's partitions among them and
// move partitions when members come and go. Parallelism is bounded by the
// partition count.
//
// # Commits follow acks
//
// Auto-commit is off. The Source tracks, per partition, the records it has
// handed out in offset order; an ack marks its records done and commits,
// synchronously and before it returns, each partition's offset up to the
// longest run of acked records from the last commit — never past a record
// that is not acked. So the committed offset never gets ahead of the
// outputs that are durable.
//
// Redelivery: a restarted group member, or the member that receives a
// partition in a rebalance, reads from the committed offset. Unacked
// records come again, and so do acked records that follow an unacked one
// in the same partition. The ID "kafka:<topic>:<partition>:<offset>" is the
// same each time, which is what the sink deduplicates by. An ack whose
// partition moved away before it came commits nothing and returns an error
// (the records go to the new owner).
//
// A new group starts at the beginning of the topic. The topic must exist
// for a Source (stream.ErrNotFound otherwise); the Producer asks brokers to
// create a missing one (auto.create.topics.enable).
//
// Read-ahead: franz-go buffers at most one fetch response per broker
// (FetchMaxBytes, default 8 MiB); beyond that, MaxInFlight bounds memory.
package kafka
