// Package model trains recoflow's recommender and serves it: a hybrid
// two-tower model, in pure Go, trained for cosine retrieval and
// reproducible bit for bit from its data and seed (DESIGN.md §5).
//
// # The model
//
// A user is described by features: city and country (one-hot after
// trimming and lower-casing; values unseen in training are ignored) and
// credit limit (standard-scaled). An item likewise: product line and scale
// (one-hot) and quantity in stock, buy price and MSRP (standard-scaled).
// Those are the built-in dataset spec's features; a dataset read with
// ReadSpecDataset has its spec's instead, encoded as the spec says: a
// categorical feature one-hot, with a cap on categories whose overflow
// goes to one "other" input or to hash buckets; a multi-categorical one
// (and free text, as word tokens) multi-hot; a numeric one standard- or
// log-scaled, a missing value counting as the mean. Implicit feedback
// (counts, quantities, event weights) is summed per user and item, each
// pair a positive of weight log2(1 + total); explicit ratings on another
// scale are mapped onto 1–5. The artifacts of such a model carry its spec
// (DatasetSpecFile) and every manifest names the spec and its hash.
// Each side has a tower, a small perceptron
//
//	features → hidden layer (64 units, ReLU) → 32 values (linear) → unit length
//
// and every user and item with ratings also has a learned id vector of 32
// values. The embedding is the sum
//
//	embedding = tower(features)/‖tower(features)‖ + id vector
//
// for a known user or item (EmbedKnownUser, EmbedKnownItem), and the
// tower's unit vector alone for one the model has never seen (EmbedUser,
// EmbedItem): a new shopper or product still gets an embedding, from its
// features. The model's opinion of a pair is the cosine similarity of
// their embeddings, which is how the vector store ranks them. With
// Config.ContentOnly there are no id vectors: the towers alone, every user
// and item embedded from its features.
//
// # The objective
//
// Every rating is a positive — the user chose the item — weighted 1 when
// it is 4 or 5 and Config.LowRatingWeight below (Config.MinRating can
// drop low ones altogether): low ratings say less about taste. How much
// less depends on the shop, so by default the data chooses 0.5 or 0.25:
// item-kNN fitted on the training split's ratings, all of them or those of
// 4 and 5 alone, ranks the validation split's relevant ratings, and low
// ratings weigh 0.25 when the second ranks better by 5 % (stars left on
// purchases, as in the classicmodels sample, keep 0.5; values that carry
// taste get 0.25; Metrics.LowRating records the choice). Training is a
// sampled softmax over cosines: for each positive (u, i) of a mini-batch,
// the loss is
//
//	−log softmax_j( cos(u, j)/τ − LogQ·log q_j )[i]
//
// over i and the batch's first Negatives distinct items (items the same
// user has as a positive elsewhere in the batch are left out), where q_j is
// item j's share of the training positives — the probability that it shows
// up as an in-batch negative — so that popular items are not pushed down
// just for being popular (LogQ 0.5 corrects half of that bias; 1 all of
// it). τ is Config.Temperature (0.2). Each step leaves each user's and each
// item's id vector out with probability IDDropout (0.2), so the towers learn
// to stand alone; id vectors start at small random values (symmetric
// users with the same features would otherwise stay identical) and are
// updated lazily: only the rows of a step's users and items move. The
// optimizer is AdamW on mini-batches.
//
// The cosine is not a rating, but metrics.json still reports an RMSE: a
// rating head, rating ≈ a + b·cos fitted by least squares on the validation
// ratings (PredictRating uses it). On the sample it is no better than the
// per-user mean: the model is trained to rank, not to predict ratings.
//
// Defaults were picked by measurement, on the classicmodels sample under
// the evaluation protocol of package eval (NDCG@10): see BENCHMARKS.md.
//
// # History
//
// After training, two item-kNN terms are folded into the published
// vectors. Each item with co-rated neighbours is turned towards them: in
// direction unit(e) + β·n, n the unit similarity-weighted sum of the unit
// embeddings of its item-kNN neighbours (co-rating cosine, 20 neighbours,
// those of the item-kNN baseline: baseline.CoRatingNeighbours), so that
// items bought by the same customers lie closer. Each known user's vector
// is turned towards its history: in direction unit(e) + w·h, e the user's
// embedding above and h the unit sum, over the items it rated (weighted as
// positives), of each item's row: with Config.HistorySource
// HistoryNeighbours, the least-squares image in the embedding space of the
// item's item-kNN neighbourhood, so that the cosine adds an item-kNN score
// ("bought with what you bought"); with HistoryEASE, the same image of the
// item's 20 largest positive weights in the item-item matrix of Steck's
// EASE (baseline.EASEWeights), for catalogues within Config.EASEMaxItems;
// with HistoryItems, the item's unit embedding. Both terms are folded into the id vectors, so EmbedKnownUser,
// EmbedKnownItem, the CSVs, the API, the stream and the evaluation all
// serve the same vectors; users and items the model does not know are
// unchanged. β, the source and w are set by Config.ItemNeighbourWeight,
// Config.HistorySource and Config.HistoryWeight, or chosen on the
// validation split by the validation run (which never trained on it): the
// prior β = 1, ease, w = 2 (above the EASE bound: neighbours, w = 1) —
// the best fixed choice on the small sample's validation splits, which are
// too small to choose among the candidates reliably — unless
// another candidate beats it there by more than two standard errors of the
// per-user differences of NDCG@10 (on generated data with latent tastes,
// where the terms hurt, validation rejects them clearly). metrics.json
// records the choice and every candidate ("history").
//
// # Training
//
// Read the committed training dataset (and the catalogue committed with it)
// from the lake, train, save:
//
//	d, manifest, err := model.ReadDataset(ctx, bucket) // only a committed dataset
//	res, err := model.Train(ctx, d, model.Config{Seed: 1})
//	res.Metrics.DatasetRunID = manifest.RunID
//	err = res.Save(ctx, bucket, model.NewVersion(time.Now()))
//
// Train shuffles the ratings with the seed into hold-out (10%,
// Config.HoldoutFraction; negative for none), validation (10%) and
// training sets. It trains on the training set, measuring NDCG@10 on the
// validation set after every epoch (over at most 5,000 of its users, drawn
// with the seed), and keeps the best epoch, stopping after Config.Patience
// epochs without improvement; the hold-out set, which
// neither training nor the choice of epoch saw, gives the reported
// figures. Then it refits on every rating: the refit is the returned,
// published model. On small data (a validation set with fewer than 2,000
// ratings of 4 or more) the refit starts afresh and runs for the chosen
// number of epochs; on larger data it continues from the validation run's
// best parameters (a warm start) for half that number, rounded up
// (Config.RefitEpochs sets the length; negative always starts afresh). The
// history blend (see History) is chosen on the validation run, which never
// trained on the validation set, and folded into the refit. Tune
// searches settings (learning rates, id dropout, temperature, LogQ, weight
// decay, low-rating weight) on the same validation set.
//
// Every customer and product of the data gets an embedding: ReadDataset adds
// the catalogue's customers and products without ratings (AddUser, AddItem),
// and they are embedded from their features alone.
//
// The result depends only on the data (not on its row order) and the
// Config: each mini-batch is cut into a fixed number of shards whose
// gradients are summed in a fixed order, the id dropout is drawn in a fixed
// order before the parallel work, so running on 1, 2 or 16 cores gives the
// same bits. Every product in the towers is rounded explicitly, so no
// platform's fused multiply-add changes them either. On amd64 with AVX2 the
// hot loops (the softmax's matrix products, logits and exponentials, the
// towers' second layer, Adam) run as vector kernels (kernels_amd64.s) that
// do the Go code's operations in its order, its accumulators as vector
// lanes, so they give the same bits as the Go code (TestKernelsSameBits,
// TestTrainSameBitsWithoutVectors). Two caveats that predate them: math.Exp
// takes a fused path on CPUs with FMA, and GOAMD64=v3 lets the compiler
// fuse the products not rounded explicitly (the golden test fails there);
// the pinned bits are those of the default GOAMD64=v1 on a CPU with FMA.
// Memory beyond the data
// and the parameters (with their Adam moments) is a few mini-batch buffers.
//
// # Evaluation
//
// EvalData and Method make the model an eval.Method ("hybrid" or
// "content-only"), evaluated with the baselines under one protocol by
// `recoflow evaluate`, and by `recoflow train` into metrics.json.
//
// # Metrics
//
// Metrics (stored as metrics.json) hold the per-epoch training loss and
// validation NDCG@10 and Precision@10; on the hold-out set: Precision@10
// and NDCG@10 of the model against a popularity ranking, defined as
// RankingDefinition says, and the RMSE of the rating head and of three
// baselines fitted on the training set (global mean, per-item mean,
// per-user mean); the refit; and, when the caller adds it, the evaluation
// report.
//
// # Artifacts
//
// Save writes, under ml-artifacts/<version>/ in the lake (the lab's layout):
//
//	embeddings/item_embeddings.csv   id,embedding — every product, pgvector text form
//	embeddings/user_embeddings.csv   id,embedding — every customer
//	model/user_tower.json            weights of each layer, weight[out][in], and biases
//	model/item_tower.json
//	model/id_embeddings.json         the id vector of every user and item with ratings; the rating head
//	scalers/user_encoder.json        one-hot categories and standard scalers
//	scalers/item_encoder.json
//	metrics.json
//	loss.png                         validation NDCG@10 and Precision@10 per epoch
//	manifest.json                    sizes and SHA-256 of the above; written last
//
// then ml-artifacts/LATEST, which names the version. A version exists only
// once its manifest does: a reader ignores a version without one, so a
// failed or interrupted Save is never seen. Numbers are written in the
// shortest form that reads back to the same float64, so a model loaded back
// embeds exactly as the trained one did.
//
// # Inference
//
// The API and the stream load the latest model and embed shoppers and
// products from their features, with their id vectors when the model knows
// them (an unknown id gives the feature embedding):
//
//	m, err := model.Load(ctx, bucket, "") // "" means the version LATEST names
//	u := m.EmbedKnownUser("103", model.UserFeatures{City: "Nantes", Country: "France", CreditLimit: 21000})
//	i := m.EmbedItem(model.ItemFeatures{ProductLine: "Motorcycles", ProductScale: "1:10",
//		QuantityInStock: 7933, BuyPrice: 48.81, MSRP: 95.70})
//	score := model.Cosine(u, i)
//
// A Model is immutable and safe for concurrent use.
package model
