//go:build unix

package local

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the file at path read-only into memory. The pages are the
// kernel's page cache, shared with other processes and never copied to the
// Go heap; release unmaps them, after which the bytes must not be touched.
// A version file is never written after it is renamed into place, so the
// mapping does not change under the reader.
func mapFile(path string) (b []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size == 0 {
		return []byte{}, func() {}, nil
	}
	if size != int64(int(size)) {
		return nil, nil, fmt.Errorf("%s: %d bytes do not fit in memory", path, size)
	}
	b, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { unix.Munmap(b) }, nil
}

// allocPages returns size zeroed bytes outside the Go heap (an anonymous
// private mapping) and the function that unmaps them, or a nil function
// when the mapping fails (the caller then uses the heap).
func allocPages(size int) ([]byte, func()) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	return b, func() { unix.Munmap(b) }
}
