// Package recommend is recoflow's recommendation engine, shared by the
// inference API (package api) and the stream: it embeds shoppers with the
// trained user tower, finds items for them and items similar to an item in
// the vector store, and falls back to the popular products when the store
// cannot answer — saying so in the answer.
//
// # Building an engine
//
// A server or a stream opens everything from URLs:
//
//	e, err := recommend.Open(ctx, bucket, "file:///var/lib/recoflow/vectors", "", recommend.Options{Logger: log})
//	defer e.Close()
//
// Open loads the model whose item embeddings the store holds (or the
// version given), and counts the popular products in the lake's training
// dataset. New builds an engine from parts already open; it checks that
// the model's dimension is the store's (else ErrDimension).
//
// # Questions
//
//	u := e.UserEmbedding(model.UserFeatures{City: "Nantes", Country: "France", CreditLimit: 21000})
//	a, err := e.ItemsForUser(ctx, u, 10)          // top 10 by cosine similarity
//	s, err := e.SimilarItems(ctx, "S10_1678", 5)  // 5 nearest, S10_1678 excluded
//
// Any shopper gets recommendations, including one the shop has never seen:
// the model is content-based, and unknown cities and countries are simply
// ignored by the encoders. Each Answer carries the items, best first, with
// their cosine similarity (Score) and distance, and the model version.
//
// A model trained on a dataset spec other than the built-in one (its
// artifacts carry the spec: IsSpecModel) takes the spec's user features,
// by name, in the model's generic form: UserSchema gives them, and a
// request carries a user by id, by features, or both:
//
//	s := e.UserSchema()
//	f := s.Empty() // every feature missing
//	country, _ := s.Lookup("country")
//	s.SetText(&f, country, "FR")
//	res := e.RecommendBatch(ctx, []recommend.Request{{UserID: "00000000-a762", Features: &f, K: 10}})
//
// A known id adds the user's learned id vector (UserEmbeddingOf). The
// popular items of such an engine come from the spec's lake dataset
// (LoadPopularSpec), and it has no product catalogue (the lab's), so an
// item the store lacks gets the popular items as similar items.
//
// The stream asks for many shoppers at once with RecommendBatch: one
// vector search call for the whole batch (one round trip on pgvector),
// with errors per request.
//
// # Fallback
//
// When the store is down, empty, too slow (Options.SearchTimeout) or holds
// another model version than the engine's, or when the model gives a
// shopper a zero embedding, the answer is the most popular products with
// Fallback set and a Reason (store_unavailable, store_empty,
// store_timeout, store_error, version_mismatch, no_embedding). Popularity
// comes from the ratings (CountPopular, LoadPopular): most ratings of 4 or
// 5 first, then most ratings, then best mean, then product code. A
// fallback's Score is the product's popularity relative to the most popular
// one, not a cosine. With Options.NoFallback, or without popular products,
// the same situations are errors wrapping ErrUnavailable.
//
// # Products the store does not hold
//
// A catalogue product nobody rated has no learned vector in the store. A
// RecommendBatch request with UnknownItemFallback still gets items similar
// to it: the nearest to the item tower's embedding of its features, taken
// from Options.Catalog (Open loads the catalogue the ETL commits with the
// training dataset), marked Fallback with Reason item_features; a product
// in no catalogue gets the popular products (item_unknown). The stream
// asks for this; the API's single-question methods keep answering such a
// product with ErrUnknownItem.
//
// Bad questions are errors, never fallbacks: ErrInvalid (k outside
// 1..MaxK, a malformed embedding), ErrDimension (an embedding of the wrong
// length), ErrUnknownItem (a product the store does not hold).
package recommend
