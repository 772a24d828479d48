// Package pipeline is the streaming stage of recoflow: it reads shoppers'
// activity from a stream, asks the recommendation engine for each event's
// recommended and similar items, and hands the enriched records to a sink,
// which acknowledges the stream once they are durable.
//
// One event becomes exactly one output: the input object unchanged plus
// recommended_items and similar_items (DESIGN.md §8), or, when the event
// cannot be processed (malformed JSON, a missing or wrongly typed field),
// one dead-letter record with the reason. The sink's ledger turns the
// stream's at-least-once delivery into exactly one of those per event, across
// crashes and restarts (see package sink).
//
// While the vector store is down the pipeline does not fill the lake with
// fallback answers: it stops taking new events and retries the same batch
// with backoff until the store answers again (Options.OnStoreDown = Wait,
// the default), so nothing is lost and nothing is degraded. With Fallback
// it delivers the popular products instead and marks each such record with
// a recommendation_fallback field.
//
// Run drives the loop; Transformer is the per-batch step, shared with the
// Lambda handler.
package pipeline
