// Package laketest is the acceptance suite that every lake backend passes.
//
// A backend's test calls Run with a function that opens a fresh, empty
// bucket for one subtest and arranges its cleanup:
//
//	func TestSuite(t *testing.T) {
//		laketest.Run(t, func(t *testing.T) lake.Bucket {
//			b, err := file.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite checks the contracts of lake.Bucket (round trips small and
// streamed large, overwrite, ranges, attributes, list order and prefix
// semantics, lake.ErrNotFound, idempotent delete, concurrent writers, atomic
// Put from a failing reader, cancelled contexts) and, when the bucket
// implements them, lake.Copier and lake.Linker. Keys stay within the rules
// every backend shares: relative, slash-separated, no empty, "." or ".."
// segments, and no key that is also a prefix of another ("a" and "a/b").
package laketest
