package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/lake/laketest"
)

func open(t *testing.T) *Bucket {
	t.Helper()
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSuite(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Bucket {
		b := open(t)
		t.Cleanup(func() {
			// Nothing the suite did may leave a temporary file behind.
			filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
					t.Errorf("temporary file left behind: %s", p)
				}
				return nil
			})
		})
		return b
	})
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "lake")
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
	if got, want := b.String(), "file://"+dir; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o666)
	if _, err := Open(f); err == nil {
		t.Error("Open of a regular file succeeded")
	}
}

func TestBadKeys(t *testing.T) {
	b := open(t)
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a//b", "a/", "../up", "a/../b", "a/./b", ".", "..", ".tmp-x", "a/.tmp-y/c", "nul\x00"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			errs := map[string]error{
				"Put":        b.Put(ctx, key, strings.NewReader("x")),
				"Delete":     b.Delete(ctx, key),
				"Copy src":   b.Copy(ctx, key, "ok"),
				"Copy dst":   b.Copy(ctx, "ok", key),
				"Link name":  b.Link(ctx, "ok", key),
				"Link targ":  b.Link(ctx, key, "ok"),
				"Attributes": func() error { _, err := b.Attributes(ctx, key); return err }(),
				"Resolve":    func() error { _, err := b.Resolve(ctx, key); return err }(),
				"Get":        func() error { _, err := b.Get(ctx, key); return err }(),
				"GetRange":   func() error { _, err := b.GetRange(ctx, key, 0, 1); return err }(),
			}
			for op, err := range errs {
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
					t.Errorf("%s(%q): error %v, want one naming the key", op, key, err)
				}
				if errors.Is(err, lake.ErrNotFound) {
					t.Errorf("%s(%q): a bad key is not a missing object: %v", op, key, err)
				}
			}
		})
	}
	for _, prefix := range []string{"/abs/", "../", "a//", "a/../b/"} {
		if err := b.List(ctx, prefix, func(string) error { return nil }); err == nil {
			t.Errorf("List(%q) succeeded", prefix)
		}
	}
	if entries, _ := os.ReadDir(b.root); len(entries) != 0 {
		t.Errorf("bad keys left files in the lake: %v", entries)
	}
}

func TestKeyAndPrefixConflict(t *testing.T) {
	b := open(t)
	ctx := t.Context()
	put(t, b, "a/b", "x")
	if err := b.Put(ctx, "a", strings.NewReader("y")); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Put over a prefix: error %v, want one about the directory", err)
	}
	if err := b.Put(ctx, "a/b/c", strings.NewReader("y")); err == nil || !strings.Contains(err.Error(), "is an object") {
		t.Errorf("Put below an object: error %v, want one about the object", err)
	}
	if got := listAll(t, b, ""); !slices.Equal(got, []string{"a/b"}) {
		t.Errorf("List = %q", got)
	}
	assertNoTemp(t, b)
}

func put(t *testing.T, b *Bucket, key, s string) {
	t.Helper()
	if err := b.Put(t.Context(), key, strings.NewReader(s)); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, b *Bucket, key string) string {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func listAll(t *testing.T, b *Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.List(t.Context(), prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func assertNoTemp(t *testing.T, b *Bucket) {
	t.Helper()
	filepath.WalkDir(b.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tmpPrefix) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestTempFilesNeverListed(t *testing.T) {
	b := open(t)
	put(t, b, "d/k", "x")
	// A crashed writer's leftovers.
	os.WriteFile(filepath.Join(b.root, "d", tmpPrefix+"crashed"), []byte("partial"), 0o666)
	os.WriteFile(filepath.Join(b.root, tmpPrefix+"top"), []byte("partial"), 0o666)
	if got := listAll(t, b, ""); !slices.Equal(got, []string{"d/k"}) {
		t.Errorf("List = %q, want [d/k]", got)
	}
	if got := listAll(t, b, "d/.tmp"); len(got) != 0 {
		t.Errorf("List(d/.tmp) = %q, want nothing", got)
	}
}

func TestDeletePrunesEmptyDirs(t *testing.T) {
	b := open(t)
	put(t, b, "a/b/c/d", "1")
	put(t, b, "a/x", "2")
	if err := b.Delete(t.Context(), "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.root, "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a/b still exists after its last key went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.root, "a")); err != nil {
		t.Errorf("a went though a/x is still there: %v", err)
	}
	if err := b.Delete(t.Context(), "a/x"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(b.root); err != nil || len(entries) != 0 {
		t.Errorf("root after deleting everything: %v, %v", entries, err)
	}
	if _, err := os.Stat(b.root); err != nil {
		t.Errorf("the root itself was removed: %v", err)
	}
}

func TestGetReaderAt(t *testing.T) {
	b := open(t)
	put(t, b, "k", "0123456789")
	rc, err := b.GetRange(t.Context(), "k", 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ra, ok := rc.(interface {
		io.ReaderAt
		io.Seeker
		Size() int64
	})
	if !ok {
		t.Fatalf("%T lacks ReadAt, Seek or Size", rc)
	}
	if ra.Size() != 5 {
		t.Errorf("Size() = %d, want 5", ra.Size())
	}
	p := make([]byte, 3)
	if n, err := ra.ReadAt(p, 1); n != 3 || string(p) != "345" {
		t.Errorf("ReadAt = %d %q %v, want 345", n, p, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rc2, err := b.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc2.Close()
	cancel()
	if _, err := rc2.Read(p); !errors.Is(err, context.Canceled) {
		t.Errorf("Read after cancel: %v, want context.Canceled", err)
	}
}

func TestCopyHardLinks(t *testing.T) {
	b := open(t)
	put(t, b, "src", "data")
	if err := b.Copy(t.Context(), "src", "dst"); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(b.root, "src"))
	c, _ := os.Stat(filepath.Join(b.root, "dst"))
	if !os.SameFile(a, c) {
		t.Error("Copy did not hard-link on a file system that supports it")
	}
	// Copying through a link gives the object, not a link to a link.
	put(t, b, "runs/1/obj", "r1")
	if err := b.Link(t.Context(), "runs/1", "cur"); err != nil {
		t.Fatal(err)
	}
	if err := b.Copy(t.Context(), "cur/obj", "elsewhere/obj"); err != nil {
		t.Fatal(err)
	}
	if err := b.Link(t.Context(), "elsewhere", "cur"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "elsewhere/obj"); got != "r1" {
		t.Errorf("copy through a link = %q, want r1", got)
	}
	assertNoTemp(t, b)
}

func TestLinkFileSpecific(t *testing.T) {
	b := open(t)
	ctx := t.Context()
	put(t, b, "runs/1/a", "1")
	put(t, b, "real/x", "x")
	put(t, b, "obj", "o")

	// The link is relative, so the lake can move.
	if err := b.Link(ctx, "runs/1", "pub/cur"); err != nil {
		t.Fatal(err)
	}
	dest, err := os.Readlink(filepath.Join(b.root, "pub", "cur"))
	if err != nil || filepath.IsAbs(dest) {
		t.Errorf("link destination %q, %v: want a relative path", dest, err)
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(b.root, moved); err != nil {
		t.Fatal(err)
	}
	b2, err := Open(moved)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, b2, "pub/cur/a"); got != "1" {
		t.Errorf("after moving the lake, pub/cur/a = %q", got)
	}
	b = b2

	// A real directory or an object in the way is refused, and left alone.
	for _, name := range []string{"real", "obj"} {
		err := b.Link(ctx, "runs/1", name)
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "not a link") {
			t.Errorf("Link over %s: error %v, want fs.ErrExist explaining it", name, err)
		}
	}
	if got := get(t, b, "real/x"); got != "x" {
		t.Errorf("real/x = %q after a refused Link", got)
	}
	if got, err := b.Resolve(ctx, "real"); err != nil || got != "real" {
		t.Errorf("Resolve(real) = %q, %v", got, err)
	}
	if err := b.Link(ctx, "obj", "o2"); err == nil {
		t.Error("Link to an object succeeded")
	}

	// Deleting a link removes the link, not what it leads to.
	if err := b.Delete(ctx, "pub/cur"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, "pub/cur"); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("Resolve after Delete: %v", err)
	}
	if got := get(t, b, "runs/1/a"); got != "1" {
		t.Errorf("target after deleting the link: %q", got)
	}

	// A link that leads to a directory being walked does not loop.
	if err := os.Symlink("..", filepath.Join(b.root, "runs", "1", "up")); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		var keys []string
		b.List(ctx, "runs/", func(k string) error { keys = append(keys, k); return nil })
		done <- keys
	}()
	select {
	case keys := <-done:
		if !slices.Equal(keys, []string{"runs/1/a"}) {
			t.Errorf("List through a looping link = %q", keys)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("List loops through a link to its parent")
	}
	assertNoTemp(t, b)
}

// TestLinkSwapAtomic runs readers against a name that Link keeps swapping
// between two targets: every List of the name must show exactly one whole
// target, and every read below a resolved prefix must read that target.
func TestLinkSwapAtomic(t *testing.T) {
	b := open(t)
	ctx := t.Context()
	targets := map[string][]string{}
	for _, run := range []string{"A", "B"} {
		var keys []string
		for i := range 6 {
			rel := fmt.Sprintf("part=%d/%s-%d.parquet", i%3, strings.ToLower(run), i)
			put(t, b, "runs/"+run+"/"+rel, run)
			keys = append(keys, "ds/"+rel)
		}
		slices.Sort(keys)
		targets[run] = keys
	}
	if err := b.Link(ctx, "runs/A", "ds"); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var swaps, lists, reads atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := b.Link(ctx, "runs/"+[]string{"B", "A"}[i%2], "ds"); err != nil {
				t.Errorf("Link: %v", err)
				return
			}
			swaps.Add(1)
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var keys []string
				if err := b.List(ctx, "ds/", func(k string) error { keys = append(keys, k); return nil }); err != nil {
					t.Errorf("List: %v", err)
					return
				}
				if !slices.Equal(keys, targets["A"]) && !slices.Equal(keys, targets["B"]) {
					t.Errorf("List(ds/) saw neither whole target: %q", keys)
					return
				}
				lists.Add(1)
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := b.Resolve(ctx, "ds")
			if err != nil {
				t.Errorf("Resolve: %v", err)
				return
			}
			run := strings.TrimPrefix(p, "runs/")
			err = b.List(ctx, p+"/", func(k string) error {
				rc, err := b.Get(ctx, k)
				if err != nil {
					return err
				}
				defer rc.Close()
				data, err := io.ReadAll(rc)
				if err == nil && string(data) != run {
					err = fmt.Errorf("%s holds %q, want %q", k, data, run)
				}
				return err
			})
			if err != nil {
				t.Errorf("reading below %s: %v", p, err)
				return
			}
			// Reading through the name itself: only target A has this key,
			// so the Get either misses or reads A's whole object.
			if rc, err := b.Get(ctx, "ds/part=0/a-0.parquet"); err == nil {
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(data) != "A" {
					t.Errorf("ds/part=0/a-0.parquet = %q, %v", data, err)
				}
			} else if !errors.Is(err, lake.ErrNotFound) {
				t.Errorf("Get through the link: %v", err)
			}
			reads.Add(1)
		}
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d swaps, %d lists, %d resolved reads", swaps.Load(), lists.Load(), reads.Load())
	if swaps.Load() < 10 || lists.Load() < 10 || reads.Load() < 10 {
		t.Errorf("too little concurrency to mean anything")
	}
	assertNoTemp(t, b)
}
