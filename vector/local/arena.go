package local

import (
	"sync"
	"unsafe"
)

// arena allocates a version's large arrays — vectors, graph links, id
// offsets — outside the Go heap where the system allows (anonymous
// mappings, see allocPages): the collector neither scans them nor counts
// them towards its next target, so a load's peak memory is the version's
// size plus the collector's headroom over the small remainder, not over
// the whole version. release returns them all; after it the arrays must
// not be touched (snapshot cleanups call it, like a version file's unmap).
// A nil arena allocates on the heap.
type arena struct {
	mu    sync.Mutex
	frees []func()
}

// minArenaBytes: smaller arrays stay on the heap.
const minArenaBytes = 1 << 20

// arenaSlice returns n zeroed Ts from a (or the heap, for small arrays or
// a nil arena). T must hold no pointers: the collector does not look
// inside arena memory.
func arenaSlice[T any](a *arena, n int) []T {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if a == nil || size < minArenaBytes {
		return make([]T, n)
	}
	b, free := allocPages(size)
	if free == nil {
		return make([]T, n)
	}
	a.mu.Lock()
	a.frees = append(a.frees, free)
	a.mu.Unlock()
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// release frees every array the arena gave out.
func (a *arena) release() {
	if a == nil {
		return
	}
	a.mu.Lock()
	frees := a.frees
	a.frees = nil
	a.mu.Unlock()
	for _, f := range frees {
		f()
	}
}
