// Package baseline holds the collaborative-filtering baselines that
// recoflow's model is measured against under package eval's protocol:
// item-based nearest neighbours (ItemKNN), implicit alternating least
// squares (ALS, Hu, Koren and Volinsky 2008), Bayesian personalised
// ranking matrix factorisation (BPR, Rendle et al. 2009) and the
// embarrassingly shallow autoencoder (EASE, Steck 2019). Each is an
// eval.Method, deterministic (from its Seed where it draws at random), with
// the defaults of the library it is usually run from (cited on each type;
// EASE's λ chosen by measurement), and each scores a user without training
// interactions by popularity. EASE is dense over the items and declines
// (eval.ErrSkipped) catalogues above its MaxItems.
//
// They learn from interaction ids only (no features), so they cannot tell
// one cold-start user from another.
package baseline
