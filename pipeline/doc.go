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
// A lab-shaped event gives a record with exactly the lab's eight keys, in
// the lab's order — session_id, customer_number, city, country,
// credit_limit, browse_history, recommended_items, similar_items — and the
// lab's shapes: recommended_items is [{id, score}, …] and similar_items is
// {product_code, similar_items: [{id, distance}, …]}, never null. The
// browsed item is the most recent one in the cart, else the most recent
// one browsed. For it:
//
//   - a product the vector store holds gets its nearest products;
//   - a product the store does not hold (a catalogue product nobody rated,
//     so no model version has it) gets the products nearest to the item
//     tower's embedding of its catalogue features (fallback reason
//     item_features);
//   - a product in no catalogue gets the popular products (item_unknown);
//   - an event with an empty browse_history gets
//     {"product_code":"","similar_items":[]}: the same keys and types as
//     every other record, so that a schema inferred from any record fits
//     all of them. It is not a fallback.
//
// Every fallback is counted in the recoflow_stream_fallbacks_total metric
// (labels part and reason). Only with TransformOptions.Annotate (recoflow
// stream --annotate) is it also marked in the record, as a ninth key:
// "recommendation_fallback":{"similar_items":"item_features"}.
//
// While the vector store is down the pipeline does not fill the lake with
// fallback answers: it stops taking new events and retries the same batch
// with backoff until the store answers again (Options.OnStoreDown = Wait,
// the default), so nothing is lost and nothing is degraded. With Fallback
// it delivers the popular products instead, counted as fallbacks (and
// marked in the record with Annotate).
//
// Latency is measured twice (see MetricPublishToCompute and MetricCompute):
// from each event's arrival in the broker to its recommendations being
// computed, which includes the time it waited in the stream (after a
// restart, the backlog's age), and the computation of each batch alone.
//
// Run drives the loop: it reads the next batch while the current one is
// transformed, and stops reading while the messages read and not yet
// acknowledged reach Options.MaxInFlightBytes. Transformer is the per-batch
// step, shared with the Lambda handler: it transforms a batch in chunks on
// every core and puts the records back in the batch's order, and keeps
// each shopper's and each product's encoded answers for the engine's model
// version.
package pipeline
