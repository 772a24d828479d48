// Package lake is the lake sink: Firehose-style delivery of recommendations
// into a lake.Bucket (a local directory, S3), exactly once.
//
// Records are written as newline-delimited JSON, one object per flush,
// optionally gzip-compressed, under time-partitioned keys in UTC
// (DESIGN.md §8):
//
//	recommendations/YYYY/MM/dd/HH/<stream>-<yyyy-MM-dd-HH-mm-ss>-<id>.json[.gz]
//
// The time is that of the oldest record in the flush (its arrival time at the
// source), as Firehose uses the oldest approximate arrival time; <id> is
// unique per flush. Error records go to the same name under
// recommendations-errors/, one JSON object per line:
//
//	{"id":"…","reason":"…","raw":"<the input as a string>","time":"…"}
//
// with "raw_encoding":"base64" added (and raw base64) when the input is not
// valid UTF-8.
//
// Before it writes a flush's objects, the sink puts a ledger entry under
// recommendations-ledger/<stream>/ that names them and the IDs they hold;
// once the flush is acknowledged it puts <entry>.acked.json beside it with
// the time, and deletes both shortly after (Options.Retain). After a
// crash, the next run reads the entries left behind and does not write the
// redelivered IDs again. The protocol and its assumptions are in package
// sink's documentation. Readers of recommendations/ never see the ledger;
// tools that read the whole lake should skip recommendations-ledger/.
//
// Use New for a ready sink:
//
//	s, err := lake.New(ctx, bucket, lake.Options{Stream: "shop", Gzip: true},
//		sink.Options{Policy: batch.Policy{Bytes: 5 << 20, Period: time.Second}})
//
// or NewWriter for a Writer without the ledger (at-least-once), as the
// Firehose sink does for its error records.
package lake
