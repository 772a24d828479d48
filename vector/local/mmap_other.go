//go:build !unix

package local

import "os"

// mapFile reads the file at path into memory (no mmap on this system).
func mapFile(path string) (b []byte, release func(), err error) {
	b, err = os.ReadFile(path)
	return b, func() {}, err
}

// allocPages has no mapping to offer here: the caller uses the heap.
func allocPages(size int) ([]byte, func()) { return nil, nil }
