// Package api is recoflow's inference API: an HTTP server over the
// recommendation engine (package recommend) that speaks the lab's
// model-inference contract, so the lab's transformation code can call it
// unchanged, plus a versioned API and what a real service needs.
//
// # Endpoints
//
//	POST /user_embeddings                 [{"city","country","creditlimit"}] → [{"embedding":[…]}]
//	POST /items_from_user?limit=k         {"embedding":[…]} → [{"id","score"}], cosine similarity, descending
//	GET  /items_from_item?item_id=…&limit=k  → [{"id","distance"}], cosine distance, ascending, the item excluded
//	POST /v1/recommendations              {"user":{…} | "embedding":[…], "limit", "exclude"} → {"items","fallback","reason","model_version"}
//	GET  /v1/items/{item_id}/similar?limit=k  → the same envelope, with item_id
//	POST /v1/recommendations/batch        {"requests":[…]} → {"results":[…]}, one vector search for all
//	GET  /healthz                         200 while the process serves
//	GET  /readyz                          200 once the engine is loaded and the store holds its version; 503 otherwise
//	GET  /metrics                         Prometheus
//	GET  /openapi.json                    the OpenAPI 3.1 document (OpenAPI returns it)
//
// Each answer of /user_embeddings is an object that can be posted as is to
// /items_from_user, as the lab's transformation Lambda does with the
// first one. limit defaults to 10 and may be 1 to 1000.
//
// # Another shop's model
//
// A model trained on a dataset spec other than the built-in one takes the
// spec's users: a user object of /v1 (and of /user_embeddings) holds an
// optional id and the spec's user features, each optional, named as the
// spec names them,
//
//	{"user":{"id":"00000000-a762","country":"FR","age":31},"limit":5}
//
// a number for a numeric feature, a string for a categorical or text one,
// a delimited string or an array of strings for a multi_categorical one;
// null, or a feature left out, counts as unknown. An unknown field or a
// value of the wrong type is a 400 invalid_field naming it
// ("user.shoe_size"). A model of the lab's dataset keeps the lab's user
// objects and answers, byte for byte. Items are the spec's item ids.
//
// # Fallback and errors
//
// When the vector store cannot answer — down, empty, too slow, holding
// another model version — the recommendation endpoints answer 200 with the
// popular products, in the same body shape, and say so: with the headers
// X-Recoflow-Fallback: popular and X-Recoflow-Fallback-Reason (and, under
// /v1, in the body). The lab's code, which reads only the body, keeps
// working; clients that care read the header. An engine built without
// fallback (recommend.Options.NoFallback) or without popular products makes
// the same situations 503 with Retry-After. /readyz reports the store's
// state either way, so that a load balancer can drain an instance whose
// store is down.
//
// Bad input gets a precise 4xx with a JSON body
//
//	{"error":{"code":"invalid_field","message":"[0].creditlimit must be a number, not the string \"abc\"","field":"[0].creditlimit"}}
//
// naming the field or query parameter: malformed JSON, a missing or wrongly
// typed field, a limit out of range, a creditlimit beyond ±MaxCreditLimit,
// any other numeric feature (a spec model's user and item features, the
// lab's item features) beyond ±MaxFeatureNumber (400); a missing or wrong bearer token (401); an unknown item (404, field
// item_id); a body over the size limit (413). The server keeps serving after
// every one of them. A 500 is a bug: the client sees code internal, and the
// request's log line (level ERROR) gives the cause.
//
// # Running
//
//	srv, err := api.New(api.Options{AuthToken: token, Registry: reg, Logger: log})
//	go func() { e, err := recommend.Open(…); …; srv.SetEngine(e) }()
//	err = srv.Serve(ctx, ln) // until ctx is done, then a graceful shutdown
//
// The server answers at once, with 503 not_ready until SetEngine gives it
// an engine; `recoflow serve` loads the engine in the background and
// retries until it succeeds.
package api
