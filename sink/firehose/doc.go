// Package firehose is the Firehose sink: it hands recommendations to an
// Amazon Data Firehose delivery stream (firehose://delivery-stream) with
// PutRecordBatch, so that Firehose buffers and delivers them wherever the
// stream points (S3, Redshift, OpenSearch, …).
//
// The sink is a sink.Buffered whose Writer sends each flush in calls of at
// most 500 records and 4 MiB (the API's limits), every record
// newline-terminated so that objects Firehose concatenates stay
// newline-delimited JSON. A call can partly fail: Firehose reports
// FailedPutCount and an ErrorCode per entry (throttling, internal errors),
// and only the failed entries are sent again, after a backoff. Records
// already accepted are never sent again, not even when a later call of the
// same flush fails as a whole and the sink retries the flush. A record
// larger than Firehose's 1,000 KiB limit cannot be sent; it becomes an
// error record.
//
// Error records do not go to Firehose: they go to another sink.Writer,
// normally the lake's error prefix (recommendations-errors/), see
// internal/connect.
//
// Firehose has no idempotency key, so delivery is at-least-once across
// crashes: a batch whose records were accepted but whose acknowledgement
// did not reach the source is sent again when redelivered (within one run,
// duplicates are still dropped by ID). Firehose itself documents that its
// destinations may receive duplicates.
//
// Credentials and region come from the AWS SDK's standard chain;
// Config.Endpoint points the client elsewhere (moto for tests).
package firehose
