package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/recoflow/recoflow/lake"
)

// Defaults for the streaming upload. Put holds at most about
// (Concurrency+2) × PartSize bytes of one body in memory.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
	defaultRegion      = "us-east-1"
	// abortTimeout bounds the clean-up of a failed multipart upload, which
	// runs even when the caller's context is already done.
	abortTimeout = 30 * time.Second
)

// Config locates a bucket. Only Bucket is required. Credentials come from
// the AWS SDK's standard chain unless AccessKeyID is set. Config's String
// and GoString methods leave the secret out.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix, when not empty, is put before every key with a "/".
	Prefix string
	// Region overrides the SDK's region (AWS_REGION, profiles); when neither
	// gives one, us-east-1 is used.
	Region string
	// Endpoint overrides the S3 endpoint (and AWS_ENDPOINT_URL), e.g.
	// http://127.0.0.1:7070 for an S3-compatible store.
	Endpoint string
	// PathStyle addresses the bucket as endpoint/bucket rather than as
	// bucket.endpoint; most S3-compatible stores need it.
	PathStyle bool
	// Create makes Open create the bucket when it does not exist (for tests
	// and demos).
	Create bool

	// AccessKeyID, SecretAccessKey and SessionToken, when AccessKeyID is
	// set, replace the SDK's credential chain.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// HTTPClient replaces the SDK's HTTP client (custom TLS, proxies, tests).
	HTTPClient *http.Client
	// MaxAttempts overrides the SDK's number of attempts per request
	// (default 3, AWS_MAX_ATTEMPTS).
	MaxAttempts int
	// PartSize is the size of a multipart upload's parts and the body size
	// from which Put switches to a multipart upload (default
	// DefaultPartSize, at least 5 MiB).
	PartSize int64
	// Concurrency is how many parts of one Put are uploaded at once (default
	// DefaultConcurrency).
	Concurrency int
}

// String describes the configuration as an s3:// URL with its options,
// without credentials.
func (c Config) String() string {
	u := url.URL{Scheme: "s3", Host: c.Bucket, Path: "/" + strings.Trim(c.Prefix, "/")}
	q := url.Values{}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.PathStyle {
		q.Set("path_style", "true")
	}
	u.RawQuery = q.Encode()
	return strings.TrimSuffix(u.String(), "/")
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return "s3.Config(" + c.String() + ")" }

// Bucket is a lake in an S3 bucket under a prefix. It implements lake.Bucket
// and lake.Copier and is safe for concurrent use.
type Bucket struct {
	client   *s3.Client
	uploader *transfermanager.Client
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string // for messages
	name     string // s3://bucket/prefix
}

var (
	_ lake.Bucket = (*Bucket)(nil)
	_ lake.Copier = (*Bucket)(nil)
)

// Open connects to the bucket described by cfg and checks that it can be
// reached with a HeadBucket request (creating the bucket first when
// cfg.Create is set and it is missing). It blocks until that check is done;
// ctx covers loading the SDK configuration and the check. On failure the
// error names the bucket, the endpoint and the cause, never a secret.
// Repeating Open is safe.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("open s3 lake: no bucket name")
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3 bucket %s: endpoint %q is not a URL such as http://host:port", cfg.Bucket, cfg.Endpoint)
		}
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < 5<<20 {
		return nil, fmt.Errorf("s3 bucket %s: part size %d is below S3's minimum of 5 MiB", cfg.Bucket, cfg.PartSize)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}

	opts := []func(*config.LoadOptions) error{config.WithDefaultRegion(defaultRegion)}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %s: load AWS configuration: %w", cfg.Bucket, err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Many S3-compatible stores return no checksums; the SDK would log
		// every such response.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	endpoint := aws.ToString(client.Options().BaseEndpoint)
	if endpoint == "" {
		endpoint = "https://s3." + client.Options().Region + ".amazonaws.com"
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	name := "s3://" + cfg.Bucket
	if prefix != "" {
		name += "/" + prefix
		prefix += "/"
	}
	b := &Bucket{
		client: client,
		uploader: transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes = cfg.PartSize
			o.MultipartUploadThreshold = cfg.PartSize
			o.Concurrency = cfg.Concurrency
			o.FailTimeout = abortTimeout
		}),
		bucket:   cfg.Bucket,
		prefix:   prefix,
		endpoint: endpoint,
		name:     name,
	}
	if err := b.check(ctx, cfg.Create, client.Options().Region); err != nil {
		return nil, err
	}
	return b, nil
}

// check verifies access to the bucket, creating it when asked to.
func (b *Bucket) check(ctx context.Context, create bool, region string) error {
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b.bucket})
	if err == nil {
		return nil
	}
	if httpStatus(err) != 0 {
		// A HEAD response has no body, so no error code: ask with a GET,
		// whose error says what is wrong (NoSuchBucket, InvalidAccessKeyId,
		// SignatureDoesNotMatch, …).
		var ae smithy.APIError
		_, lerr := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, MaxKeys: aws.Int32(1)})
		if errors.As(lerr, &ae) {
			err = lerr
		}
	}
	what := fmt.Sprintf("s3 bucket %s at %s", b.bucket, b.endpoint)
	if !bucketMissing(err) {
		return &opError{op: what, err: err}
	}
	if !create {
		return &opError{op: what, cause: "the bucket does not exist (create it, or open with Create)", err: err}
	}
	in := &s3.CreateBucketInput{Bucket: &b.bucket}
	if region != defaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err = b.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) { // owned: created meanwhile by another Open
		return &opError{op: what + ": create", err: err}
	}
	return nil
}

// bucketMissing reports whether err from HeadBucket or ListObjectsV2 says
// that the bucket does not exist.
func bucketMissing(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "NoSuchBucket" || ae.ErrorCode() == "NotFound"
	}
	return false
}

// String returns "s3://bucket/prefix" (never credentials or the endpoint).
// It does not block.
func (b *Bucket) String() string { return b.name }

// Close does nothing: the HTTP connections are pooled by the client and
// closed when idle. It is safe to repeat.
func (b *Bucket) Close() error { return nil }

// key returns the object key of a lake key, after checking it.
func (b *Bucket) key(op, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, b.name, err)
	}
	return b.prefix + key, nil
}

// where names an object in errors.
func (b *Bucket) where(key string) string { return b.name + "/" + key }

// fail wraps err from op on key, translating a missing object into
// lake.ErrNotFound.
func (b *Bucket) fail(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %s: %w", op, b.where(key), lake.ErrNotFound)
	}
	return &opError{op: op + " " + b.where(key), err: err}
}

// checkKey applies the key rules every lake backend shares, so that what
// works on S3 also works on a local directory.
func checkKey(key string) error {
	why := ""
	switch {
	case key == "":
		why = "empty"
	case strings.HasPrefix(key, "/"):
		why = "absolute"
	default:
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" {
				why = "has an empty segment"
				break
			}
			if seg == "." || seg == ".." {
				why = fmt.Sprintf("has a %q segment", seg)
				break
			}
		}
	}
	if why == "" {
		return nil
	}
	return fmt.Errorf("invalid key %q: %s", key, why)
}

// Get opens the object at key; the caller closes the body. ctx covers the
// request and every later read of the body. Get blocks until the response
// headers arrive and is safe to repeat; a missing key gives an error
// wrapping lake.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := b.key("get", key)
	if err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil {
		return nil, b.fail("get", key, err)
	}
	return out.Body, nil
}

// GetRange is Get limited to length bytes from off (length < 0: to the
// end), with one ranged GET. A range past the end of the object reads as
// empty. Like Get, ctx covers the reads, and repeating it is safe.
func (b *Bucket) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	k, err := b.key("get range of", key)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get range of %s: negative offset %d", b.where(key), off)
	}
	if length == 0 {
		if _, err := b.Attributes(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	rng := fmt.Sprintf("bytes=%d-", off)
	if length > 0 {
		rng += fmt.Sprint(off + length - 1)
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &k, Range: &rng})
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// The object exists (else: NoSuchKey) and ends before off.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, b.fail("get range of", key, err)
	}
	return out.Body, nil
}

// Attributes returns the size and modification time of the object at key
// (a HEAD request), or an error wrapping lake.ErrNotFound. It blocks until
// the response arrives, ctx covers the request, and it is safe to repeat.
func (b *Bucket) Attributes(ctx context.Context, key string) (lake.Attributes, error) {
	k, err := b.key("attributes of", key)
	if err != nil {
		return lake.Attributes{}, err
	}
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil {
		return lake.Attributes{}, b.fail("attributes of", key, err)
	}
	return lake.Attributes{Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List calls fn with every key under prefix, in the lexical order S3 lists
// them, one ListObjectsV2 page (up to 1,000 keys) at a time. Objects whose
// names end in "/" (folder markers made by consoles) are not keys and are
// skipped. List blocks until done; ctx covers every page request; an error
// from fn stops it and is returned as it is. Repeating it is safe.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("list %s: prefix %q is absolute", b.name, prefix)
	}
	full := b.prefix + prefix
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &full})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return &opError{op: fmt.Sprintf("list %q in %s", prefix, b.name), err: err}
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), b.prefix)
			if k == "" || strings.HasSuffix(k, "/") {
				continue
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Put stores everything read from r at key. Bodies shorter than the part
// size go up in one PutObject; longer ones stream as a multipart upload,
// Concurrency parts at a time, so memory stays bounded whatever the size
// (up to 10,000 parts). Either way S3 makes the object visible only whole;
// on any error (r failing, ctx done, a request failing) a multipart upload
// is aborted and the previous object stays. Put blocks until the object is
// stored; ctx covers every request. Repeating it is safe.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) error {
	k, err := b.key("put", key)
	if err != nil {
		return err
	}
	_, err = b.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &b.bucket, Key: &k, Body: r})
	if err != nil {
		return &opError{op: "put " + b.where(key), err: err}
	}
	return nil
}

// Delete removes the object at key. Deleting a missing key is not an error
// (S3's DeleteObject is idempotent). It blocks until the response arrives,
// ctx covers the request, and it is safe to repeat.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	k, err := b.key("delete", key)
	if err != nil {
		return err
	}
	_, err = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &k})
	if err != nil && !isNotFound(err) {
		return &opError{op: "delete " + b.where(key), err: err}
	}
	return nil
}

// Copy makes dst a copy of src inside the store with one CopyObject
// request (objects up to 5 GiB), atomic like a PUT. A missing src gives an
// error wrapping lake.ErrNotFound. Copy blocks until the copy is done, ctx
// covers the request, and repeating it is safe.
func (b *Bucket) Copy(ctx context.Context, src, dst string) error {
	sk, err := b.key("copy", src)
	if err != nil {
		return err
	}
	dk, err := b.key("copy", dst)
	if err != nil {
		return err
	}
	if src == dst {
		// S3 refuses to copy an object onto itself unchanged.
		_, err := b.Attributes(ctx, src)
		return err
	}
	source := escapePath(b.bucket + "/" + sk)
	_, err = b.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b.bucket, Key: &dk, CopySource: &source})
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("copy %s to %s: %w", b.where(src), b.where(dst), lake.ErrNotFound)
		}
		return &opError{op: fmt.Sprintf("copy %s to %s", b.where(src), b.where(dst)), err: err}
	}
	return nil
}

// escapePath URL-encodes every segment of p, as CopySource wants.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
	}
	return strings.Join(segs, "/")
}

// isNotFound reports whether err says that an object (or, from HeadBucket,
// a bucket) does not exist.
func isNotFound(err error) bool {
	var (
		nsk *types.NoSuchKey
		nf  *types.NotFound
		nsb *types.NoSuchBucket
		ae  smithy.APIError
	)
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nsb) {
		return true
	}
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return true
		}
	}
	return httpStatus(err) == http.StatusNotFound
}

// httpStatus returns the HTTP status of a failed request, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// credentialCodes are the error codes that blame the credentials, whatever
// the HTTP status (VersityGW answers an unknown key with 404).
var credentialCodes = map[string]bool{
	"AccessDenied":          true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"XAdminUserNotFound":    true,
}

// opError is a failed S3 operation. Its message is short (what was being
// done, then the cause in a few words) while Unwrap keeps the SDK's error
// for errors.Is and errors.As, e.g. context.Canceled.
type opError struct {
	op    string
	cause string // overrides describe(err)
	err   error
}

func (e *opError) Error() string {
	if e.cause != "" {
		return e.op + ": " + e.cause
	}
	return e.op + ": " + describe(e.err)
}

func (e *opError) Unwrap() error { return e.err }

// describe says in a few words why an SDK call failed. Nothing the SDK puts
// in an error contains the secret key, and neither does this.
func describe(err error) string {
	var (
		errno syscall.Errno
		dns   *net.DNSError
		op    *net.OpError
		re    *awshttp.ResponseError
		ae    smithy.APIError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded.Error()
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &dns):
		return dns.Error()
	case errors.As(err, &op):
		return op.Error()
	case errors.As(err, &re):
		status := re.HTTPStatusCode()
		msg := fmt.Sprintf("HTTP %d", status)
		if errors.As(err, &ae) {
			msg += " " + ae.ErrorCode()
			if m := ae.ErrorMessage(); m != "" {
				msg += ": " + m
			}
		}
		switch {
		case status == http.StatusForbidden || (ae != nil && credentialCodes[ae.ErrorCode()]):
			return "access denied (" + msg + "): check the credentials and the bucket's policy"
		case status == http.StatusMovedPermanently:
			if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
				return "the bucket is in region " + r + " (" + msg + ")"
			}
		}
		return msg
	case errors.As(err, &ae):
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	var me transfermanager.MultipartUploadError
	if errors.As(err, &me) && errors.Unwrap(err) != nil {
		return describe(errors.Unwrap(err))
	}
	return err.Error()
}
