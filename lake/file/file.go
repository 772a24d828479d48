package file

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/recoflow/recoflow/lake"
)

// tmpPrefix starts the name of every file or link that is being written.
// Such names are never listed and are refused as key segments.
const tmpPrefix = ".tmp-"

// retries bounds how often a write retries when a concurrent Delete removes
// the directory it has just created.
const retries = 10

// Bucket is a lake in a local directory. It implements lake.Bucket,
// lake.Copier and lake.Linker, and is safe for concurrent use, also by
// several processes sharing the directory.
type Bucket struct {
	root string // absolute, clean
	real string // root with symbolic links resolved, for relative links
}

var (
	_ lake.Bucket = (*Bucket)(nil)
	_ lake.Copier = (*Bucket)(nil)
	_ lake.Linker = (*Bucket)(nil)
)

// Open opens the lake rooted at dir, creating the directory when it does not
// exist. It blocks on the file system only; repeating it is safe.
func Open(dir string) (*Bucket, error) {
	if dir == "" {
		return nil, errors.New("open file lake: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open file lake %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o777); err != nil {
		return nil, fmt.Errorf("open file lake %s: %w", abs, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open file lake %s: %w", abs, err)
	}
	return &Bucket{root: abs, real: real}, nil
}

// String returns "file://" and the lake's absolute directory. It does not
// block.
func (b *Bucket) String() string { return "file://" + filepath.ToSlash(b.root) }

// Close does nothing: a file lake holds no resources between calls. It is
// safe to repeat.
func (b *Bucket) Close() error { return nil }

// path returns the file system path of a checked key or prefix.
func (b *Bucket) path(key string) string {
	return filepath.Join(b.root, filepath.FromSlash(key))
}

// checkKey reports why key cannot name an object, naming the key.
func checkKey(key string) error {
	why := ""
	switch {
	case key == "":
		why = "empty"
	case strings.HasPrefix(key, "/"):
		why = "absolute"
	case strings.ContainsRune(key, 0):
		why = "contains a NUL byte"
	default:
		for seg := range strings.SplitSeq(key, "/") {
			switch {
			case seg == "":
				why = "has an empty segment"
			case seg == "." || seg == "..":
				why = fmt.Sprintf("has a %q segment", seg)
			case strings.HasPrefix(seg, tmpPrefix):
				why = fmt.Sprintf("has a segment starting with %q, which is reserved for temporary files", tmpPrefix)
			}
			if why != "" {
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("invalid key %q: %s", key, why)
}

// notFound reports whether err means that a path does not exist, including
// a path that runs through a regular file.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get opens the object at key. The returned reader also implements
// io.ReaderAt, io.Seeker and Size() int64, so columnar readers can use it
// directly. ctx covers the opening and every later read: once ctx is done,
// reads fail with its error. Get blocks only on the file system and is safe
// to repeat; a missing key gives an error wrapping lake.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return b.open(ctx, "get", key, 0, -1)
}

// GetRange is Get limited to length bytes from off (length < 0: to the
// end). A range past the end of the object reads as empty. Like Get, ctx
// covers the reads, and repeating it is safe.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("get range of %q in %s: negative offset %d", key, b, off)
	}
	return b.open(ctx, "get range of", key, off, length)
}

func (b *Bucket) open(ctx context.Context, op, key string, off, length int64) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, b, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %q in %s: %w", op, key, b, err)
	}
	f, err := os.Open(b.path(key))
	if notFound(err) {
		return nil, fmt.Errorf("%s %q in %s: %w", op, key, b, lake.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %q in %s: %w", op, key, b, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = lake.ErrNotFound // a directory is a prefix, not an object
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s %q in %s: %w", op, key, b, err)
	}
	size := fi.Size()
	off = min(off, size)
	if length < 0 || length > size-off {
		length = size - off
	}
	return &object{ctx: ctx, f: f, sr: io.NewSectionReader(f, off, length)}, nil
}

// object is an open object, or a range of one, whose reads honour a context.
// Objects are never written in place (Put renames a new file over the key),
// so the size taken when opening stays right.
type object struct {
	ctx context.Context
	f   *os.File
	sr  *io.SectionReader
}

func (o *object) Read(p []byte) (int, error) {
	if err := o.ctx.Err(); err != nil {
		return 0, err
	}
	return o.sr.Read(p)
}

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if err := o.ctx.Err(); err != nil {
		return 0, err
	}
	return o.sr.ReadAt(p, off)
}

func (o *object) Seek(off int64, whence int) (int64, error) { return o.sr.Seek(off, whence) }

// Size returns the length of the object (or of the range) in bytes.
func (o *object) Size() int64 { return o.sr.Size() }

func (o *object) Close() error { return o.f.Close() }

// Attributes returns the size and modification time of the object at key,
// or an error wrapping lake.ErrNotFound. It blocks only on the file system,
// ctx is checked before it starts, and repeating it is safe.
func (b *Bucket) Attributes(ctx context.Context, key string) (lake.Attributes, error) {
	if err := checkKey(key); err != nil {
		return lake.Attributes{}, fmt.Errorf("attributes %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return lake.Attributes{}, fmt.Errorf("attributes of %q in %s: %w", key, b, err)
	}
	fi, err := os.Stat(b.path(key))
	if notFound(err) || (err == nil && !fi.Mode().IsRegular()) {
		err = lake.ErrNotFound
	}
	if err != nil {
		return lake.Attributes{}, fmt.Errorf("attributes of %q in %s: %w", key, b, err)
	}
	return lake.Attributes{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// ctxReader stops a copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put streams r into a temporary file beside key, syncs it to disk and
// renames it over key, so readers see the old object or the new one, never
// a part. It blocks until r is drained and the file is durable, or until
// ctx is done (checked between reads of r). On any error the temporary file
// is removed and the previous object stays. Repeating a Put is safe.
// Putting a key that is a prefix of other keys (a directory) fails.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, b, err)
	}
	if err := b.put(ctx, key, r, true); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, b, err)
	}
	return nil
}

// PutUnsynced is Put without the fsyncs: the object appears atomically,
// but it is durable only after a later Sync. Writers of many files (the
// ETL's partitions) use it and call Sync once before they commit.
func (b *Bucket) PutUnsynced(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, b, err)
	}
	if err := b.put(ctx, key, r, false); err != nil {
		return fmt.Errorf("put %q in %s: %w", key, b, err)
	}
	return nil
}

// Sync makes every earlier PutUnsynced durable, with one syncfs(2) of the
// file system that holds the lake. It blocks until the disk has the data.
func (b *Bucket) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := os.Open(b.root)
	if err != nil {
		return fmt.Errorf("sync %s: %w", b, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", b, err)
	}
	return nil
}

func (b *Bucket) put(ctx context.Context, key string, r io.Reader, durable bool) (err error) {
	dst := b.path(key)
	dir := filepath.Dir(dst)
	f, err := createTemp(dir)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a second Close only reports os.ErrClosed
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		if fi, serr := os.Lstat(dst); serr == nil && fi.IsDir() {
			return fmt.Errorf("the key is a prefix of other keys (a directory), not an object: %w", err)
		}
		return err
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// tempName returns a fresh name for a temporary file in dir.
func tempName(dir string) string { return filepath.Join(dir, tmpPrefix+rand.Text()) }

// createTemp creates dir and a new temporary file in it, retrying when a
// concurrent Delete prunes the directory in between.
func createTemp(dir string) (*os.File, error) {
	for i := 0; ; i++ {
		// One mkdir covers the common cases (a new leaf directory, or one
		// that exists); MkdirAll only when parents are missing too.
		err := os.Mkdir(dir, 0o777)
		if errors.Is(err, fs.ErrExist) {
			err = nil
		} else if err != nil {
			err = mkdirAll(dir)
		}
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(tempName(dir), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, nil
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("a prefix of the key is an object, not a directory: %w", err)
		}
		if i >= retries || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)) {
			return nil, err
		}
	}
}

// mkdirAll creates dir and its parents, explaining the one common failure:
// a part of the path being an object.
func mkdirAll(dir string) error {
	err := os.MkdirAll(dir, 0o777)
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("a prefix of the key is an object, not a directory: %w", err)
	}
	return err
}

// syncDir makes a rename or link in dir durable. File systems that cannot
// sync a directory are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the object at key, then every directory above it that is
// left empty, up to the root (stopping at links). Deleting a missing key,
// or a key that is only a prefix of others, is not an error. Deleting a
// name made by Link removes the link, never its target. Delete blocks only
// on the file system, ctx is checked before it starts, and repeating it is
// safe.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q in %s: %w", key, b, err)
	}
	p := b.path(key)
	fi, err := os.Lstat(p)
	if notFound(err) || (err == nil && fi.IsDir()) {
		return nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete %q in %s: %w", key, b, err)
	}
	b.prune(filepath.Dir(p))
	return nil
}

// prune removes dir and its parents below the root while they are empty
// real directories. Failures only mean that a directory stays.
func (b *Bucket) prune(dir string) {
	for dir != b.root && strings.HasPrefix(dir, b.root+string(filepath.Separator)) {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// entry is one directory entry that List will visit.
type entry struct {
	name string
	sort string // name, plus "/" for a directory: keys below it sort that way
	real string // resolved path of a directory
	dir  bool
}

// List calls fn with every key under prefix, recursively and in lexical
// order. It walks through links made by Link and reports the keys found
// there under the link's name; each link is resolved once, so one List sees
// one target even while Link swaps it. Temporary files are never listed. A
// missing prefix lists nothing. List blocks only on the file system, stops
// with ctx's error once ctx is done, and is safe to repeat; an error from
// fn stops it and is returned as it is.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, namePrefix = prefix[:i+1], prefix[i+1:]
		if err := checkKey(prefix[:i]); err != nil {
			return fmt.Errorf("list %s: prefix: %w", b, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q in %s: %w", prefix, b, err)
	}
	start, err := filepath.EvalSymlinks(b.path(dirKey))
	if notFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %q in %s: %w", prefix, b, err)
	}
	fi, err := os.Stat(start)
	if notFound(err) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %q in %s: %w", prefix, b, err)
	}
	w := walker{ctx: ctx, fn: fn, stack: []os.FileInfo{fi}}
	err = w.walk(start, dirKey, namePrefix)
	if w.fnErr {
		return err
	}
	if err != nil {
		return fmt.Errorf("list %q in %s: %w", prefix, b, err)
	}
	return nil
}

// walker is one List in progress.
type walker struct {
	ctx   context.Context
	fn    func(string) error
	fnErr bool          // the error being returned came from fn
	stack []os.FileInfo // the directories being walked, to stop link cycles
}

// walk lists the directory at real path dir, whose keys start with keyPrefix,
// keeping entries whose names start with namePrefix.
func (w *walker) walk(dir, keyPrefix, namePrefix string) error {
	des, err := os.ReadDir(dir)
	if notFound(err) {
		return nil // removed while listing
	}
	if err != nil {
		return err
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, tmpPrefix) || !strings.HasPrefix(name, namePrefix) {
			continue
		}
		e := entry{name: name, sort: name}
		switch t := de.Type(); {
		case t.IsRegular():
		case t.IsDir():
			e.dir, e.real = true, filepath.Join(dir, name)
		case t&fs.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(filepath.Join(dir, name))
			if err != nil {
				continue // dangling, or removed while listing
			}
			fi, err := os.Stat(real)
			if err != nil {
				continue
			}
			if fi.IsDir() {
				if w.onStack(fi) {
					continue // a link to a directory being walked
				}
				e.dir, e.real = true, real
			} else if !fi.Mode().IsRegular() {
				continue
			}
		default:
			continue // devices, sockets, pipes are not objects
		}
		if e.dir {
			e.sort += "/"
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		key := keyPrefix + e.name
		if !e.dir {
			if err := w.fn(key); err != nil {
				w.fnErr = true
				return err
			}
			continue
		}
		fi, err := os.Stat(e.real)
		if err != nil {
			continue // removed while listing
		}
		w.stack = append(w.stack, fi)
		err = w.walk(e.real, key+"/", "")
		w.stack = w.stack[:len(w.stack)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) onStack(fi os.FileInfo) bool {
	for _, s := range w.stack {
		if os.SameFile(s, fi) {
			return true
		}
	}
	return false
}

// DeletePrefix removes the directory that holds every key under prefix,
// with any temporary files crashed writers left in it. A link inside is
// removed, never followed. A missing prefix is not an error; ctx is checked
// before it starts; repeating it is safe.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	prefix = strings.TrimSuffix(prefix, "/")
	if err := checkKey(prefix); err != nil {
		return fmt.Errorf("delete prefix in %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete prefix %q in %s: %w", prefix, b, err)
	}
	if err := os.RemoveAll(b.path(prefix)); err != nil {
		return fmt.Errorf("delete prefix %q in %s: %w", prefix, b, err)
	}
	b.prune(filepath.Dir(b.path(prefix)))
	return nil
}
