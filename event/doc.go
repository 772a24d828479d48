// Package event is the shopper-activity record the stream carries: the
// lab's JSON object, one per stream message.
//
//	{"session_id":"45ba9939-df9c-4ca9-a11d-2786b63983fd","customer_number":478,
//	 "city":"Pasadena","country":"USA","credit_limit":59811,
//	 "browse_history":[{"product_code":"S50_1514","quantity":"7","in_shopping_cart":true}]}
//
// Decode checks a record strictly and names the field of anything wrong:
//
//	e, err := event.Decode(msg.Data)
//	if err != nil {
//		// err reads like `browse_history[2].quantity: "7x" is not a whole number`;
//		// errors.As(err, new(*event.Error)) tells bad input from other failures.
//	}
//	item, ok := event.Pick(e) // the browsed item to find similar products for
//
// # What Decode accepts
//
//   - The record is one JSON object (surrounding whitespace allowed) of at
//     most MaxSize bytes, valid JSON throughout and valid UTF-8 in every
//     string.
//   - session_id: a non-empty string. customer_number: a non-negative whole
//     number. city, country: strings (may be empty). credit_limit: a
//     non-negative number. browse_history: an array (may be empty) of objects
//     with product_code (non-empty string), quantity and in_shopping_cart (a
//     boolean).
//   - quantity is a non-negative whole number written either as a JSON
//     number (7, 7.0, 7e0) or as a string of decimal digits ("7"), as the
//     lab's stream sends both. At most MaxQuantity.
//   - Every field above is required; null is never accepted for one.
//   - Field names match exactly (case-sensitive): "Session_ID" is not
//     session_id.
//   - A field listed above given twice in the same object is an error.
//
// Unknown-field policy: fields Decode does not know (at the top level or in
// a browse_history item) are accepted and ignored, so that the lab's stream
// may add fields without breaking the pipeline. They stay in the original
// bytes, which Event keeps: the output record is "the input object
// unchanged, plus fields" (AppendWith), so they reach the lake as they came.
// The two names the output adds, recommended_items and similar_items, are
// reserved: an input carrying either at the top level is rejected, so that
// no output object ever holds a name twice.
//
// Decode keeps a reference to the bytes it was given (Event.Raw); the caller
// must not modify them afterwards.
//
// # Any shop's events: Mapping
//
// A dataset spec's stream section (dataset.Stream) says which event fields
// carry the session id, the user's id, the user features and the browsed
// items of a shop that is not the lab's. NewMapping builds a Mapping from a
// spec, and Mapping.Decode reads an event through it with the rules above,
// applied to the mapped fields and typed by the spec (integer ids as
// non-negative whole numbers, kept as their decimal text; string ids as
// non-empty strings; numeric user features as non-negative numbers, others
// as strings), into a Record: session id, user id, user features by name,
// browsed items oldest first. A mapping without a quantity field reads each
// item as one; one without an in-cart field reads none as in the cart.
// LabMapping, the built-in spec's mapping, accepts and rejects exactly what
// the lab's Decode did, with the same values and errors (a table test and a
// fuzz target compare the two). There is one reader: Decode itself reads
// through LabMapping and returns the lab's view of the Record.
//
// The pipeline builds one Mapping from the run's spec at start (an error
// there is a configuration error, before any message is read) and decodes
// each message with Mapping.DecodeTo into a Record of a per-batch slice;
// Record.Pick picks the item, and Record.AppendWith writes the output,
// whose bytes are the same as Event.AppendWith's. Strings in a decoded
// Record (and Event) share the record's bytes when they had no escapes, so
// decoding the lab's event allocates nothing beyond the Record.
package event
