package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/recoflow/recoflow/lake"
)

// leasePrefix holds one object per lease name, under the bucket's prefix.
const leasePrefix = ".recoflow/leases/"

// minLeaseTTL is the shortest lease Lease grants.
const minLeaseTTL = time.Second

var _ lake.Leaser = (*Bucket)(nil)

// Lease takes the named lease by creating the object
// .recoflow/leases/<name>.json with a conditional PUT (If-None-Match: *),
// so that of two concurrent takers exactly one succeeds. The object
// describes the holder and when the lease expires (now + ttl). While held,
// the lease is renewed every ttl/3 with a PUT conditional on the object
// being the one this holder wrote (If-Match: its ETag). A lease whose
// expiry has passed is taken over the same way. The holder gives the lease
// up (Lost closes) when it could not renew it by a quarter of ttl before
// it expires, so that it stops before anyone can take it over; a clock
// skew between hosts larger than that defeats the scheme.
//
// The store must support conditional writes: AWS S3 does, and so does
// VersityGW; a store that ignores If-None-Match would let two holders in.
func (b *Bucket) Lease(ctx context.Context, name string, holder lake.LeaseHolder, ttl time.Duration) (lake.Lease, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("lease in %s: invalid lease name %q: want one plain key segment", b, name)
	}
	if ttl < minLeaseTTL {
		return nil, fmt.Errorf("lease %q in %s: ttl %s is below %s", name, b, ttl, minLeaseTTL)
	}
	if holder.Host == "" {
		holder.Host, _ = os.Hostname()
	}
	if holder.PID == 0 {
		holder.PID = os.Getpid()
	}
	l := &s3Lease{b: b, name: name, key: b.prefix + leasePrefix + name + ".json", holder: holder, ttl: ttl,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	const attempts = 5
	for range attempts {
		now := time.Now()
		if l.holder.Acquired.IsZero() {
			l.holder.Acquired = now.UTC()
		}
		etag, err := l.write(ctx, now, aws.String("*"), nil)
		if err == nil {
			l.start(etag, now)
			return l, nil
		}
		if !conditionFailed(err) {
			return nil, &opError{op: fmt.Sprintf("take lease %q in %s", name, b), err: err}
		}
		// Someone holds it, or held it: read who, and take it over when
		// it has expired.
		cur, curTag, err := l.read(ctx)
		if errors.Is(err, lake.ErrNotFound) {
			continue // released meanwhile: try to create it again
		}
		if err != nil {
			return nil, err
		}
		now = time.Now()
		if cur.Expires.IsZero() || now.Before(cur.Expires) {
			return nil, &lake.LeaseHeldError{Name: name, Where: b.String(), Holder: cur}
		}
		etag, err = l.write(ctx, now, nil, aws.String(curTag))
		if err == nil {
			l.start(etag, now)
			return l, nil
		}
		if !conditionFailed(err) {
			return nil, &opError{op: fmt.Sprintf("take over expired lease %q in %s", name, b), err: err}
		}
		// Another taker was faster: look again.
	}
	cur, _, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	return nil, &lake.LeaseHeldError{Name: name, Where: b.String(), Holder: cur}
}

// conditionFailed reports whether a conditional request failed because of
// its condition (HTTP 412), or because a concurrent conditional write was
// in progress (HTTP 409 ConditionalRequestConflict).
func conditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}

// s3Lease is a held lease object.
type s3Lease struct {
	b      *Bucket
	name   string
	key    string
	holder lake.LeaseHolder
	ttl    time.Duration

	mu      sync.Mutex
	etag    string    // of the object this holder last wrote
	expires time.Time // as last written
	err     error     // why the lease was lost

	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// write stores the holder with a new expiry under a condition and returns
// the new ETag. The expiry counts from before the request, so the holder's
// view is never later than the store's.
func (l *s3Lease) write(ctx context.Context, now time.Time, ifNoneMatch, ifMatch *string) (string, error) {
	h := l.holder
	h.Expires = now.Add(l.ttl).UTC()
	data, _ := json.Marshal(h)
	out, err := l.b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &l.b.bucket, Key: &l.key, Body: bytes.NewReader(data),
		ContentType: aws.String("application/json"),
		IfNoneMatch: ifNoneMatch, IfMatch: ifMatch,
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// read returns the lease object's holder and ETag.
func (l *s3Lease) read(ctx context.Context) (lake.LeaseHolder, string, error) {
	var h lake.LeaseHolder
	out, err := l.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &l.b.bucket, Key: &l.key})
	if err != nil {
		if isNotFound(err) {
			return h, "", fmt.Errorf("lease %q in %s: %w", l.name, l.b, lake.ErrNotFound)
		}
		return h, "", &opError{op: fmt.Sprintf("read lease %q in %s", l.name, l.b), err: err}
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 64<<10))
	if err != nil {
		return h, "", &opError{op: fmt.Sprintf("read lease %q in %s", l.name, l.b), err: err}
	}
	if err := json.Unmarshal(data, &h); err != nil {
		// Not ours to interpret: treat it as held, expiring never, so a
		// person looks at it rather than a run overwriting it.
		h = lake.LeaseHolder{Owner: fmt.Sprintf("an unreadable lease object (%v)", err)}
	}
	return h, aws.ToString(out.ETag), nil
}

func (l *s3Lease) start(etag string, at time.Time) {
	l.etag = etag
	l.expires = at.Add(l.ttl)
	go l.renew()
}

// renew keeps the lease until Release, or declares it lost.
func (l *s3Lease) renew() {
	defer close(l.done)
	interval := l.ttl / 3
	retry := max(l.ttl/20, 50*time.Millisecond)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		etag, expires := l.etag, l.expires
		l.mu.Unlock()
		// Give up a quarter of ttl before the lease expires: by then the
		// work under it must have stopped.
		deadline := expires.Add(-l.ttl / 4)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		now := time.Now()
		newTag, err := l.write(ctx, now, nil, aws.String(etag))
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.etag, l.expires = newTag, now.Add(l.ttl)
			l.mu.Unlock()
			t.Reset(interval)
		case conditionFailed(err):
			cur, _, rerr := l.read(context.Background())
			who := "another holder"
			if rerr == nil {
				who = cur.String()
			}
			l.fail(fmt.Errorf("%w: lease %q in %s was taken over by %s", lake.ErrLeaseLost, l.name, l.b, who))
			return
		case !time.Now().Before(deadline):
			l.fail(fmt.Errorf("%w: lease %q in %s could not be renewed before %s: %s", lake.ErrLeaseLost, l.name, l.b,
				deadline.UTC().Format(time.RFC3339), describe(err)))
			return
		default:
			t.Reset(retry)
		}
	}
}

func (l *s3Lease) fail(err error) {
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	close(l.lost)
}

func (l *s3Lease) Lost() <-chan struct{} { return l.lost }

func (l *s3Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Release stops the renewal and deletes the lease object if it is still
// the one this holder wrote (DELETE with If-Match; where the store does
// not support that, it compares the ETag first).
func (l *s3Lease) Release(ctx context.Context) error {
	first := false
	l.stopOnce.Do(func() { first = true; close(l.stop) })
	<-l.done
	if !first || l.Err() != nil {
		return nil
	}
	l.mu.Lock()
	etag := l.etag
	l.mu.Unlock()
	_, err := l.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.b.bucket, Key: &l.key, IfMatch: aws.String(etag)})
	switch {
	case err == nil, isNotFound(err), conditionFailed(err):
		return nil // gone, or no longer ours
	case ctx.Err() != nil:
		return ctx.Err()
	}
	// A store without conditional deletes: check, then delete.
	_, cur, rerr := l.read(ctx)
	if errors.Is(rerr, lake.ErrNotFound) {
		return nil
	}
	if rerr != nil {
		return rerr
	}
	if cur != etag {
		return nil
	}
	if _, err := l.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.b.bucket, Key: &l.key}); err != nil && !isNotFound(err) {
		return &opError{op: fmt.Sprintf("release lease %q in %s", l.name, l.b), err: err}
	}
	return nil
}
