// Package model trains recoflow's recommender and serves it: a content-based
// two-tower model, in pure Go, reproducible bit for bit from its data and
// seed (DESIGN.md §5).
//
// # The model
//
// A user is described by features, not by an id: city and country (one-hot
// after trimming and lower-casing; values unseen in training are ignored)
// and credit limit (standard-scaled). An item likewise: product line and
// scale (one-hot) and quantity in stock, buy price and MSRP
// (standard-scaled). Each side has a tower, a small perceptron
//
//	features → hidden layer (64 units, ReLU) → embedding (32 values, linear)
//
// and the model's opinion of a pair is the cosine similarity of their
// embeddings. It is trained to match the rating rescaled from 1..5 to
// -1..1, minimizing the mean of (cos(u, i) − (rating−3)/2)² with AdamW on
// mini-batches, so that its predicted rating is 3 + 2·cos. Because only
// features go in, any shopper gets an embedding, including one the shop
// has never seen.
//
// # Training
//
// Read the committed training dataset from the lake, train, save:
//
//	d, manifest, err := model.ReadDataset(ctx, bucket) // only a committed dataset
//	res, err := model.Train(ctx, d, model.Config{Seed: 1})
//	res.Metrics.DatasetRunID = manifest.RunID
//	err = res.Save(ctx, bucket, model.NewVersion(time.Now()))
//
// Train shuffles the ratings with the seed into training (80%), validation
// (10%) and hold-out (10%) sets. The encoders are fitted on the training
// rows only. After every epoch it measures the training and validation
// loss and reports them through Config.Progress; it keeps the parameters of
// the epoch with the lowest validation loss and stops after Config.Patience
// epochs without improvement. The hold-out set, which neither training nor
// the choice of epoch saw, gives the reported metrics.
//
// The result depends only on the data (not on its row order) and the
// Config: each mini-batch is cut into a fixed number of shards whose
// gradients are summed in a fixed order, so running on 1, 2 or 16 cores
// gives the same bits. Every product in the towers is rounded explicitly, so
// no platform's fused multiply-add changes them either.
//
// # Metrics
//
// Metrics (stored as metrics.json) hold the per-epoch losses and, on the
// hold-out set: the RMSE on the 1–5 scale of the model and of three
// baselines fitted on the training set (global mean, per-item mean,
// per-user mean); and Precision@10 and NDCG@10 of the model against a
// popularity ranking, defined as RankingDefinition says: for each user with
// at least one hold-out rating ≥ 4, every item except those the user rated
// outside the hold-out is ranked (by cosine, or by number of training
// ratings), the relevant items being the user's hold-out items rated ≥ 4.
//
// # Artifacts
//
// Save writes, under ml-artifacts/<version>/ in the lake (the lab's layout):
//
//	embeddings/item_embeddings.csv   id,embedding — every product, pgvector text form
//	embeddings/user_embeddings.csv   id,embedding — every customer
//	model/user_tower.json            weights of each layer, weight[out][in], and biases
//	model/item_tower.json
//	scalers/user_encoder.json        one-hot categories and standard scalers
//	scalers/item_encoder.json
//	metrics.json
//	loss.png                         training and validation loss per epoch
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
// products from their features:
//
//	m, err := model.Load(ctx, bucket, "") // "" means the version LATEST names
//	u := m.EmbedUser(model.UserFeatures{City: "Nantes", Country: "France", CreditLimit: 21000})
//	i := m.EmbedItem(model.ItemFeatures{ProductLine: "Motorcycles", ProductScale: "1:10",
//		QuantityInStock: 7933, BuyPrice: 48.81, MSRP: 95.70})
//	score := model.Cosine(u, i)
//
// A Model is immutable and safe for concurrent use.
package model
