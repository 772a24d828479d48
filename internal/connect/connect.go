// Package connect is the one place that turns a URL into a backend: it picks
// the source database, lake, and (later) vector store and stream
// implementations by URL scheme. No backend registers itself globally.
package connect

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/recoflow/recoflow/lake"
	lakefile "github.com/recoflow/recoflow/lake/file"
	lakes3 "github.com/recoflow/recoflow/lake/s3"
	"github.com/recoflow/recoflow/source"
	"github.com/recoflow/recoflow/source/mysql"
	"github.com/recoflow/recoflow/source/sqlite"
)

// SourceOptions tune how a source is opened.
type SourceOptions struct {
	// Create allows an embedded (SQLite) source file to be created when it
	// does not exist. Without it a missing file is an error.
	Create bool
}

// Source opens the source database named by rawURL:
// sqlite:///abs/path.db, sqlite://rel/path.db or mysql://user:pass@host:port/db.
func Source(ctx context.Context, rawURL string, opts SourceOptions) (*source.DB, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("source URL %q: want sqlite:///path/file.db or mysql://user:pass@host:port/db", Redact(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3", "file":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("source URL %q: no file path", rawURL)
		}
		return sqlite.Open(ctx, filepath.Clean(path), opts.Create)
	case "mysql", "mariadb":
		return mysql.Open(ctx, rawURL, opts.Create)
	default:
		return nil, fmt.Errorf("source URL %q: unknown scheme %q (want sqlite or mysql)", Redact(rawURL), scheme)
	}
}

// LakeOptions tune how a lake is opened. Query parameters of the URL
// (endpoint, region, path_style, and create=true to create a missing
// bucket) override them.
type LakeOptions struct {
	S3Endpoint  string
	S3Region    string
	S3PathStyle bool
}

// Lake opens the lake named by rawURL: file:///abs/dir, a plain directory
// path, or s3://bucket/prefix. A file lake's directory is created if
// needed; under TrackCreatedDirs the creation is recorded.
func Lake(ctx context.Context, rawURL string, opts LakeOptions) (lake.Bucket, error) {
	if !strings.Contains(rawURL, "://") {
		if rawURL == "" {
			return nil, fmt.Errorf("lake URL is empty: want file:///path/lake or s3://bucket/prefix")
		}
		return openFile(ctx, rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("lake URL %q: %v", Redact(rawURL), err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" { // file://rel/dir
			p = u.Host + u.Path
		}
		return openFile(ctx, p)
	case "s3":
		cfg := lakes3.Config{
			Bucket:    u.Host,
			Prefix:    strings.Trim(u.Path, "/"),
			Endpoint:  opts.S3Endpoint,
			Region:    opts.S3Region,
			PathStyle: opts.S3PathStyle,
		}
		q := u.Query()
		if v := q.Get("endpoint"); v != "" {
			cfg.Endpoint = v
		}
		if v := q.Get("region"); v != "" {
			cfg.Region = v
		}
		if v := q.Get("path_style"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("lake URL %q: path_style=%q is not true or false", Redact(rawURL), v)
			}
			cfg.PathStyle = b
		}
		if v := q.Get("create"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("lake URL %q: create=%q is not true or false", Redact(rawURL), v)
			}
			cfg.Create = b
		}
		if cfg.Bucket == "" {
			return nil, fmt.Errorf("lake URL %q: no bucket name", Redact(rawURL))
		}
		b, err := lakes3.Open(ctx, cfg)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return b, nil
	default:
		return nil, fmt.Errorf("lake URL %q: unknown scheme %q (want file or s3)", Redact(rawURL), u.Scheme)
	}
}

func openFile(ctx context.Context, dir string) (lake.Bucket, error) {
	defer noteCreation(ctx, dir)()
	b, err := lakefile.Open(dir)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Redact returns rawURL with any password replaced by "xxxxx", for logs and
// errors. Strings that do not parse as URLs are returned with everything
// between "://" and "@" removed.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	if err != nil {
		if i := strings.Index(rawURL, "://"); i >= 0 {
			if j := strings.LastIndex(rawURL, "@"); j > i {
				return rawURL[:i+3] + "xxxxx" + rawURL[j:]
			}
		}
	}
	return rawURL
}
