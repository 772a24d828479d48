// Package baseline holds the collaborative-filtering baselines that
// recoflow's model is measured against under package eval's protocol:
// item-based nearest neighbours (ItemKNN), implicit alternating least
// squares (ALS, Hu, Koren and Volinsky 2008) and Bayesian personalised
// ranking matrix factorisation (BPR, Rendle et al. 2009). Each is an
// eval.Method, deterministic from its Seed, with the defaults of the
// library it is usually run from (cited on each type), and each scores a
// user without training interactions by popularity.
//
// They learn from interaction ids only (no features), so they cannot tell
// one cold-start user from another.
package baseline
