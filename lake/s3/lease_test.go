package s3

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recoflow/recoflow/lake"
)

// TestLeaseExpiredIsTakenOver: a lease left by a holder that died (its
// expiry passed) is taken over; a live one is not.
func TestLeaseExpiredIsTakenOver(t *testing.T) {
	b := openScratch(t)
	ctx := t.Context()
	key := leasePrefix + "dataset.json"
	dead := lake.LeaseHolder{Owner: "crashed run", Host: "elsewhere", PID: 4242,
		Acquired: time.Now().Add(-time.Hour).UTC(), Expires: time.Now().Add(-time.Minute).UTC()}
	data, _ := json.Marshal(dead)
	if err := b.Put(ctx, key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	l, err := b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "new run"}, time.Minute)
	if err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	var h lake.LeaseHolder
	if err := json.Unmarshal([]byte(getString(t, b, key)), &h); err != nil || h.Owner != "new run" || !h.Expires.After(time.Now()) {
		t.Fatalf("lease object after takeover: %+v (%v), want new run with a future expiry", h, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attributes(ctx, key); !errors.Is(err, lake.ErrNotFound) {
		t.Errorf("after release the lease object is still there (%v)", err)
	}

	// A live lease written by another host is respected and named.
	live := dead
	live.Expires = time.Now().Add(time.Hour).UTC()
	data, _ = json.Marshal(live)
	if err := b.Put(ctx, key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	_, err = b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "new run"}, time.Minute)
	if !errors.Is(err, lake.ErrLeaseHeld) || !strings.Contains(err.Error(), "crashed run (host elsewhere, pid 4242") {
		t.Fatalf("Lease over a live lease: %v, want it held by crashed run on host elsewhere, pid 4242", err)
	}
}

func getString(t *testing.T, b *Bucket, key string) string {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	return buf.String()
}

// TestLeaseRenewed: a held lease moves its expiry forward while held, so a
// long run keeps it past its first ttl.
func TestLeaseRenewed(t *testing.T) {
	b := openScratch(t)
	ctx := t.Context()
	const ttl = 3 * time.Second
	l, err := b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "long run"}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	key := leasePrefix + "dataset.json"
	var first lake.LeaseHolder
	json.Unmarshal([]byte(getString(t, b, key)), &first)
	// Wait for evidence of two renewals (generous deadline for a loaded machine).
	deadline := time.Now().Add(2 * time.Minute)
	renewals := 0
	last := first.Expires
	for renewals < 2 && time.Now().Before(deadline) {
		var h lake.LeaseHolder
		json.Unmarshal([]byte(getString(t, b, key)), &h)
		if h.Expires.After(last) {
			renewals++
			last = h.Expires
		}
		if l.Err() != nil {
			t.Fatalf("lease lost while renewing: %v", l.Err())
		}
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
	if renewals < 2 {
		t.Fatalf("the lease was renewed %d times in 2 minutes, want 2", renewals)
	}
	if h, err := b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "intruder"}, ttl); err == nil {
		h.Release(ctx)
		t.Fatal("a renewed lease was taken by another holder")
	}
}

// TestLeaseLostWhenTakenOver: a holder whose lease object was replaced by
// another holder learns it at its next renewal (Lost closes, Err says who),
// and its Release leaves the other holder's lease alone.
func TestLeaseLostWhenTakenOver(t *testing.T) {
	b := openScratch(t)
	ctx := t.Context()
	l, err := b.Lease(ctx, "dataset", lake.LeaseHolder{Owner: "slow run"}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := leasePrefix + "dataset.json"
	other := lake.LeaseHolder{Owner: "other run", Host: "h2", PID: 7, Expires: time.Now().Add(time.Hour).UTC()}
	data, _ := json.Marshal(other)
	if err := b.Put(ctx, key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(2 * time.Minute):
		t.Fatal("the lease did not report its loss within 2 minutes")
	}
	if err := l.Err(); !errors.Is(err, lake.ErrLeaseLost) || !strings.Contains(err.Error(), "other run") {
		t.Fatalf("Err() = %v, want a lost lease naming other run", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(getString(t, b, key), "other run") {
		t.Fatal("Release of a lost lease removed the other holder's lease")
	}
}
