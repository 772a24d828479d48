// Package eval is recoflow's one evaluation protocol for recommenders.
//
// A [Method] is fitted on the training part of a split and returns a
// [Scorer]; [Evaluate] ranks, for every test user, every item the user has
// no training interaction with and scores the top k against the user's
// held-out relevant items (precision, recall, NDCG, MAP and hit rate at k,
// catalogue coverage, and RMSE for scorers that also predict ratings).
// [Run] does the whole protocol for a list of methods: one seeded random
// (or time) split and one cold-start split where a seeded fraction of users
// is held out entirely, the same for every method.
//
// Users and items are dense indices, so the package knows nothing of the
// model or the lake; package model converts its dataset with
// (*model.Dataset).EvalData and wraps itself as a Method. Baselines
// (popularity here; item-kNN, implicit ALS, BPR and EASE in eval/baseline)
// are Methods too. A Method may decline data it cannot handle by a Fit error
// wrapping ErrSkipped; Run then notes it in Report.Notes and goes on.
package eval
