package s3

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/recoflow/recoflow/internal/testenv"
	"github.com/recoflow/recoflow/lake"
	"github.com/recoflow/recoflow/lake/laketest"
)

// testConfig returns the configuration named by RECOFLOW_TEST_S3 (see
// testenv.S3Var), with Create set, or skips the test. It parses the URL the
// way internal/connect does; importing connect here would be an import
// cycle.
func testConfig(t *testing.T) Config {
	t.Helper()
	raw := testenv.URL(t, testenv.S3Var)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		t.Fatalf("%s=%q: want s3://bucket[/prefix]?endpoint=…", testenv.S3Var, raw)
	}
	q := u.Query()
	cfg := Config{
		Bucket:   u.Host,
		Prefix:   strings.Trim(u.Path, "/"),
		Endpoint: q.Get("endpoint"),
		Region:   q.Get("region"),
		Create:   true,
	}
	if v := q.Get("path_style"); v != "" {
		if cfg.PathStyle, err = strconv.ParseBool(v); err != nil {
			t.Fatalf("%s: path_style=%q", testenv.S3Var, v)
		}
	}
	return cfg
}

func randomName(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:12])
}

func openTest(t *testing.T, cfg Config) *Bucket {
	t.Helper()
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openScratch opens the test bucket under a fresh random prefix and, when
// the test ends, deletes what is left there and checks that no incomplete
// multipart upload was left behind.
func openScratch(t *testing.T) *Bucket {
	t.Helper()
	cfg := testConfig(t)
	cfg.Prefix = strings.Trim(cfg.Prefix+"/"+randomName("test-"), "/")
	b := openTest(t, cfg)
	t.Cleanup(func() { cleanPrefix(t, b) })
	return b
}

func cleanPrefix(t *testing.T, b *Bucket) {
	ctx := t.Context()
	if ctx.Err() != nil {
		var cancel func()
		ctx, cancel = contextWithTimeout(time.Minute)
		defer cancel()
	}
	var keys []string
	if err := b.List(ctx, "", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	out, err := b.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: &b.prefix})
	if err != nil {
		t.Logf("cleanup: list multipart uploads: %v", err)
		return
	}
	for _, u := range out.Uploads {
		t.Errorf("incomplete multipart upload left behind: %s (%s)", *u.Key, *u.UploadId)
		b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: u.Key, UploadId: u.UploadId})
	}
}

func TestSuite(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Bucket { return openScratch(t) })
}

func TestPrefix(t *testing.T) {
	b := openScratch(t)
	ctx := t.Context()
	if got, want := b.String(), "s3://"+b.bucket+"/"+strings.TrimSuffix(b.prefix, "/"); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if err := b.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Prefix = ""
	root := openTest(t, cfg)
	if root.String() != "s3://"+cfg.Bucket {
		t.Errorf("String() without prefix = %q", root.String())
	}
	var keys []string
	if err := root.List(ctx, b.prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := b.prefix + "k"; len(keys) != 1 || keys[0] != want {
		t.Errorf("the bucket's root lists %q under the prefix, want [%s]", keys, want)
	}
}

func TestBadKeys(t *testing.T) {
	b := openScratch(t)
	for _, key := range []string{"", "/abs", "a//b", "a/", "../up", "a/./b"} {
		err := b.Put(t.Context(), key, strings.NewReader("x"))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("Put(%q): error %v, want one naming the key", key, err)
		}
		if _, err := b.Get(t.Context(), key); err == nil || errors.Is(err, lake.ErrNotFound) {
			t.Errorf("Get(%q): error %v, want a bad key", key, err)
		}
	}
}

// TestOpenErrors checks that Open fails early with an error that names the
// bucket, the endpoint and the cause, and never the secret.
func TestOpenErrors(t *testing.T) {
	base := testConfig(t)
	const secret = "wrong-secret-7f3a9c"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"wrong secret", func(c *Config) {
			c.AccessKeyID, c.SecretAccessKey = "testkey", secret
		}, []string{"access denied", "403"}},
		{"unknown key", func(c *Config) {
			c.AccessKeyID, c.SecretAccessKey = "nobody-"+randomName(""), secret
		}, []string{"access denied"}},
		{"closed port", func(c *Config) {
			c.Endpoint = closed
		}, []string{closed, "connection refused"}},
		{"missing bucket", func(c *Config) {
			c.Bucket, c.Create = randomName("recoflow-missing-"), false
		}, []string{"does not exist"}},
		{"endpoint without scheme", func(c *Config) {
			c.Endpoint = strings.TrimPrefix(strings.TrimPrefix(c.Endpoint, "http://"), "https://")
		}, []string{"not a URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			start := time.Now()
			b, err := Open(t.Context(), cfg)
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), msg)
			for _, s := range append(tc.want, cfg.Bucket) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
			for _, s := range []string{secret, os.Getenv("AWS_SECRET_ACCESS_KEY")} {
				if s != "" && strings.Contains(msg, s) {
					t.Errorf("error %q reveals the secret", msg)
				}
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("Open took %v to fail", d)
			}
		})
	}
}

func TestConfigHidesSecret(t *testing.T) {
	c := Config{Bucket: "b", Prefix: "p", Endpoint: "http://h:1", Region: "r", PathStyle: true,
		AccessKeyID: "id", SecretAccessKey: "s3cr3t-value"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.String()} {
		if strings.Contains(s, "s3cr3t-value") {
			t.Errorf("%q shows the secret", s)
		}
	}
	if got, want := c.String(), "s3://b/p?endpoint=http%3A%2F%2Fh%3A1&path_style=true&region=r"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCreateBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket, cfg.Prefix = randomName("recoflow-create-"), ""
	b := openTest(t, cfg)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(time.Minute)
		defer cancel()
		cleanPrefix(t, b)
		if _, err := b.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b.bucket}); err != nil {
			t.Errorf("delete bucket: %v", err)
		}
	})
	if err := b.Put(t.Context(), "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	// Opening again with Create finds the bucket there.
	openTest(t, cfg)
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"b/a/k.txt":                "b/a/k.txt",
		"b/with space/ü=1/a+b&c;d": "b/with%20space/%C3%BC%3D1/a%2Bb%26c%3Bd",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// TestEnvironment checks that the SDK's standard variables are honoured:
// AWS_ENDPOINT_URL when Config has no endpoint, and us-east-1 when nothing
// names a region.
func TestEnvironment(t *testing.T) {
	cfg := testConfig(t)
	t.Setenv("AWS_ENDPOINT_URL", cfg.Endpoint)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	cfg.Endpoint, cfg.Region = "", ""
	b := openTest(t, cfg)
	if got := b.client.Options().Region; got != "us-east-1" {
		t.Errorf("region = %q, want us-east-1", got)
	}
	if b.endpoint != os.Getenv("AWS_ENDPOINT_URL") {
		t.Errorf("endpoint = %q, want AWS_ENDPOINT_URL", b.endpoint)
	}
}
