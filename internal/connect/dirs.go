package connect

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// createdDirs records the directories that opening file lakes and embedded
// vector stores created, so that a command that fails leaves none of them
// behind empty.
type createdDirs struct {
	mu   sync.Mutex
	dirs []string // absolute, each the topmost directory one open created
}

type createdDirsKey struct{}

// TrackCreatedDirs returns a context under which Lake and Vectors record
// the directories they create for file:// backends, and a function that
// removes every recorded directory that still holds nothing but empty
// directories (call it when the command failed). A directory that existed
// before, or that received any file, is never removed.
func TrackCreatedDirs(ctx context.Context) (context.Context, func()) {
	rec := &createdDirs{}
	return context.WithValue(ctx, createdDirsKey{}, rec), rec.removeEmpty
}

// noteCreation returns a function to call after dir was opened (and maybe
// created): it records the topmost ancestor of dir that did not exist
// before, if ctx tracks creations.
func noteCreation(ctx context.Context, dir string) func() {
	rec, _ := ctx.Value(createdDirsKey{}).(*createdDirs)
	if rec == nil {
		return func() {}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return func() {}
	}
	top := ""
	for p := abs; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		top = p
		if filepath.Dir(p) == p {
			break
		}
	}
	return func() {
		if top == "" {
			return
		}
		if _, err := os.Lstat(top); err == nil {
			rec.mu.Lock()
			rec.dirs = append(rec.dirs, top)
			rec.mu.Unlock()
		}
	}
}

func (r *createdDirs) removeEmpty() {
	r.mu.Lock()
	dirs := slices.Clone(r.dirs)
	r.dirs = nil
	r.mu.Unlock()
	for _, d := range dirs {
		if onlyEmptyDirs(d) {
			os.RemoveAll(d)
		}
	}
}

// onlyEmptyDirs reports whether the tree at dir holds directories only
// (and empty lock files, such as the embedded vector store's LOCK, which a
// failed load leaves with nothing in it).
func onlyEmptyDirs(dir string) bool {
	only := true
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() && info.Size() == 0 &&
			(d.Name() == "LOCK" || strings.HasSuffix(d.Name(), ".lock")) {
			return nil
		}
		only = false
		return filepath.SkipAll
	})
	return err == nil && only
}
