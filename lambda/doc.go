// Package lambda runs recoflow's transformer as an AWS Lambda function for
// Amazon Data Firehose data transformation, so that a Firehose delivery
// stream can call recoflow where the lab called its Python Lambda.
//
// Firehose invokes the function with a batch of records (recordId,
// approximateArrivalTimestamp, base64 data) and expects one result per
// record, with the same recordId, in any order (this handler keeps the
// input order):
//
//   - "Ok" with the transformed data: the transform's output, newline-terminated
//     (added when missing) so that the objects Firehose writes are
//     newline-delimited JSON;
//   - "Dropped" when the transform returns an error wrapping ErrDrop, or
//     empty output: the record is deliberately left out (Firehose counts it
//     as processed and delivers nothing); its original data is returned;
//   - "ProcessingFailed" for any other error, and for a transform that
//     panics: Firehose writes the original record (returned as it came) to
//     the destination's processing-failed prefix. The response has no room
//     for the reason, so the handler logs it with the recordId (to
//     CloudWatch Logs, through the Logger).
//
// A transform error wrapping ErrRetry (a dependency that is down) fails the
// whole invocation instead, so that Firehose retries it (three times by
// default, then it treats the batch as failed); so does a context that ends
// before every record is done (the function's timeout).
//
// The handler is built with aws-lambda-go's event types and is started with
// its lambda.Start, as cmd/recoflow-lambda does.
//
// aws-lambda-go v1.55 always serialises each result's "metadata" (empty
// partition keys and Iceberg routing fields); Firehose ignores them for
// destinations without dynamic partitioning or Iceberg tables.
package lambda
