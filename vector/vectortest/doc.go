// Package vectortest is the acceptance suite that every vector.Store
// backend passes, and the deterministic data it (and the benchmarks) use:
// clustered vectors shaped like trained embeddings, queries near them, and
// exact search as ground truth.
//
// A backend's test calls Run with a Harness that opens fresh, empty stores:
//
//	func TestAcceptance(t *testing.T) {
//		vectortest.Run(t, vectortest.Harness{
//			Open: func(t *testing.T) vector.Store { … },
//		})
//	}
package vectortest
