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
package event
