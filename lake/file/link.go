package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/recoflow/recoflow/lake"
)

// Copy makes dst an atomic copy of the object src: a hard link renamed over
// dst, or, where hard links are impossible (another file system, a file
// system without them), a copy written like Put. A hard-linked copy stays
// independent because Put never writes into an existing file. A missing
// src gives an error wrapping lake.ErrNotFound. Copy blocks only on the file
// system; ctx is checked before it starts and covers a byte copy. Repeating
// it is safe.
func (b *Bucket) Copy(ctx context.Context, src, dst string) error {
	for _, k := range []string{src, dst} {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("copy in %s: %w", b, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("copy %q to %q in %s: %w", src, dst, b, err)
	}
	if err := b.copy(ctx, src, dst); err != nil {
		return fmt.Errorf("copy %q to %q in %s: %w", src, dst, b, err)
	}
	return nil
}

func (b *Bucket) copy(ctx context.Context, src, dst string) error {
	// Link the object itself, not a symbolic link that leads to it: a
	// relative link would point elsewhere from dst's directory.
	sp, err := filepath.EvalSymlinks(b.path(src))
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(sp)
	}
	if notFound(err) || (err == nil && !fi.Mode().IsRegular()) {
		return lake.ErrNotFound
	}
	if err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	dp := b.path(dst)
	dir := filepath.Dir(dp)
	for i := 0; ; i++ {
		if err := mkdirAll(dir); err != nil {
			return err
		}
		tmp := tempName(dir)
		err := os.Link(sp, tmp)
		if err == nil {
			err = os.Rename(tmp, dp)
			// When dst already was a link to the same file, rename does
			// nothing and leaves tmp behind.
			os.Remove(tmp)
			if err != nil {
				return err
			}
			return syncDir(dir)
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
			if _, serr := os.Stat(sp); notFound(serr) {
				return lake.ErrNotFound
			}
			if i < retries {
				continue // dir was pruned by a concurrent Delete, or a name clash
			}
			return err
		}
		break // no hard links here: copy the bytes
	}
	f, err := os.Open(sp)
	if notFound(err) {
		return lake.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return b.put(ctx, dst, f, true)
}

// Link makes the prefix name lead to the prefix target: it creates a
// relative symbolic link at name and renames it over the link that was
// there, so a reader sees the old target or the new one, never neither.
// target must be an existing prefix (a directory), else the error wraps
// lake.ErrNotFound; target and name must not contain one another. When name
// is a real directory or an object, Link refuses with an error wrapping
// fs.ErrExist and changes nothing: the caller decides what to do with it.
// Link blocks only on the file system, checks ctx before it starts, and is
// safe to repeat.
func (b *Bucket) Link(ctx context.Context, target, name string) error {
	for _, k := range []string{target, name} {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("link in %s: %w", b, err)
		}
	}
	if target == name || strings.HasPrefix(name, target+"/") || strings.HasPrefix(target, name+"/") {
		return fmt.Errorf("link %q to %q in %s: one contains the other", name, target, b)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("link %q to %q in %s: %w", name, target, b, err)
	}
	if err := b.link(target, name); err != nil {
		return fmt.Errorf("link %q to %q in %s: %w", name, target, b, err)
	}
	return nil
}

func (b *Bucket) link(target, name string) error {
	fi, err := os.Stat(b.path(target))
	if notFound(err) {
		return fmt.Errorf("target: %w", lake.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("target is an object, not a prefix")
	}
	np := b.path(name)
	if err := refuseNonLink(np); err != nil {
		return err
	}
	dir := filepath.Dir(np)
	for i := 0; ; i++ {
		if err := mkdirAll(dir); err != nil {
			return err
		}
		// The link is relative to the directory it is in, which may itself
		// be reached through a link.
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			if notFound(err) && i < retries {
				continue
			}
			return err
		}
		rel, err := filepath.Rel(realDir, filepath.Join(b.real, filepath.FromSlash(target)))
		if err != nil {
			return err
		}
		tmp := tempName(dir)
		err = os.Symlink(rel, tmp)
		if err != nil {
			if (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)) && i < retries {
				continue // dir was pruned by a concurrent Delete, or a name clash
			}
			return err
		}
		if err := os.Rename(tmp, np); err != nil {
			os.Remove(tmp)
			if rerr := refuseNonLink(np); rerr != nil {
				return rerr
			}
			return err
		}
		return syncDir(dir)
	}
}

// refuseNonLink returns an error wrapping fs.ErrExist when the path of a
// link name holds a real directory or an object.
func refuseNonLink(p string) error {
	fi, err := os.Lstat(p)
	switch {
	case err != nil || fi.Mode()&fs.ModeSymlink != 0:
		return nil
	case fi.IsDir():
		return fmt.Errorf("%w: the name is a real directory, not a link; move or delete it first", fs.ErrExist)
	default:
		return fmt.Errorf("%w: the name is an object, not a link; delete it first", fs.ErrExist)
	}
}

// Resolve returns the prefix that the link at name points to, or name itself
// when name is a real directory (or an object), or an error wrapping
// lake.ErrNotFound when nothing is there. It does not follow a chain of links
// past the first. Resolve blocks only on the file system, checks ctx before
// it starts, and is safe to repeat.
func (b *Bucket) Resolve(ctx context.Context, name string) (string, error) {
	if err := checkKey(name); err != nil {
		return "", fmt.Errorf("resolve in %s: %w", b, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("resolve %q in %s: %w", name, b, err)
	}
	t, err := b.resolve(name)
	if err != nil {
		return "", fmt.Errorf("resolve %q in %s: %w", name, b, err)
	}
	return t, nil
}

func (b *Bucket) resolve(name string) (string, error) {
	np := b.path(name)
	fi, err := os.Lstat(np)
	if notFound(err) {
		return "", lake.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return name, nil
	}
	dest, err := os.Readlink(np)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(dest) {
		realDir, err := filepath.EvalSymlinks(filepath.Dir(np))
		if err != nil {
			return "", err
		}
		dest = filepath.Join(realDir, dest)
	}
	for _, root := range []string{b.real, b.root} {
		rel, err := filepath.Rel(root, dest)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel), nil
		}
	}
	return "", fmt.Errorf("the link leads outside the lake, to %s", dest)
}
