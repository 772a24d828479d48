// Package kinesis is the Amazon Kinesis Data Streams backend of package
// stream, on aws-sdk-go-v2: a Source that reads every shard assigned to it
// and keeps its positions durably in a checkpoint store, and a Producer that
// publishes with PutRecords, the session id as partition key.
//
//	ck, _ := kinesis.NewFileCheckpoints("recoflow-data/kinesis-checkpoints")
//	src, err := kinesis.NewSource(ctx, kinesis.Config{Stream: "shopper-events", Checkpoints: ck})
//
// Credentials and region come from the SDK's usual chain (environment,
// shared files, roles); Config.Endpoint points the client at another
// implementation of the API, such as moto for tests.
//
// # Reading and checkpoints
//
// The Source lists the stream's shards and runs one reader per shard it
// owns: GetShardIterator (after the shard's checkpoint, or at the trim
// horizon when there is none), then GetRecords in a loop — at once while
// behind, every PollInterval when caught up, with backoff when throttled,
// and a fresh iterator when one expires because the pipeline held it back
// (backpressure). Records go to ReadBatch in shard order.
//
// An ack checkpoints, before it returns, each shard up to the longest run
// of acked records (never past an unacked one) through a Checkpointer:
// FileCheckpoints (a directory; one file per shard, synced on every write)
// or LakeCheckpoints (objects in a lake bucket, e.g. on S3). A restarted
// Source reads each shard from after its checkpoint, so unacked records —
// and acked ones behind an unacked one in the same shard — come again, with
// the same ID "kinesis:<stream>:<shard>:<sequence number>".
//
// Resharding: a shard closed by a split or merge is read to its end; once
// all its records are acked its checkpoint becomes ShardEnd, and only then
// are its children read (the shard list is read again every ListInterval,
// and when a shard ends), so a session's events stay in order across the
// reshard.
//
// # Several processes
//
// Shards are divided statically: with Workers = n, worker w reads the
// shards at indexes i ≡ w (mod n) of the shard list sorted by id. Run one
// process per worker index, all with the same n and Group. They must share
// one checkpoint store — a lake bucket on S3, or a directory on a shared
// file system — because after a reshard, or when n changes, a shard's
// checkpoint may be written by one worker and read by another (children
// wait for their parents' ShardEnd, written by the parents' workers). There
// is no lease table: two processes with the same worker index would read
// the same shards. For elastic membership, use the JetStream or Kafka
// backends, whose servers divide the work.
package kinesis
