package remote_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"dagrun/remote"
	"dagrun/remote/remotetest"
)

// s3Store opens a fresh prefix of the test bucket on the server that
// scripts/s3/start.sh starts (scripts/test-services.sh does it).
func s3Store(t *testing.T) *remote.S3Store {
	t.Helper()
	s, err := remote.OpenS3(s3URL(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// s3URL names a fresh prefix of the test bucket.
func s3URL(t *testing.T) *url.URL {
	t.Helper()
	ep := os.Getenv("DAGRUN_S3_ENDPOINT")
	if ep == "" {
		t.Skip("no S3 server: run under scripts/test-services.sh (or scripts/s3/start.sh and export what it prints)")
	}
	u, err := url.Parse(fmt.Sprintf("s3://dagrun-test/%s-%d?endpoint=%s", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano(), url.QueryEscape(ep)))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// s3StoreB is s3Store for benchmarks.
func s3StoreB(b *testing.B) *remote.S3Store {
	u, err := url.Parse(fmt.Sprintf("s3://dagrun-test/bench-%d?endpoint=%s", time.Now().UnixNano(), url.QueryEscape(os.Getenv("DAGRUN_S3_ENDPOINT"))))
	if err != nil {
		b.Fatal(err)
	}
	s, err := remote.OpenS3(u)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	remotetest.Run(t, s3Store(t))
}

func TestS3PushFetchAndCorruption(t *testing.T) {
	ctx := context.Background()
	s := s3Store(t)
	store := &remotetest.Counting{Store: s}
	a, b := openCache(t), openCache(t)
	e := commit(t, a, "k1", files)
	if err := (&remote.Tier{Store: store, Cache: a, Required: true}).Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, want := store.Requests(), 2*(1+5); got > want {
		t.Errorf("push requests = %d, want <= %d", got, want)
	}
	got, err := (&remote.Tier{Store: store, Cache: b, Required: true}).Fetch(ctx, "k1")
	if err != nil || got == nil || got.Digest != e.Digest {
		t.Fatalf("Fetch = %v, %v", got, err)
	}
	// A flipped byte in a blob is a miss naming the digest.
	var d string
	for _, f := range e.Manifest {
		if f.Path == "sub/b.bin" {
			d = f.Digest
		}
	}
	if err := s.Put(ctx, "blobs/"+d[:2]+"/"+d[2:], strings.NewReader("beTa"), 4); err != nil {
		t.Fatal(err)
	}
	log, buf := logBuf()
	got, err = (&remote.Tier{Store: s, Cache: openCache(t), Log: log}).Fetch(ctx, "k1")
	if got != nil || err != nil || !strings.Contains(buf.String(), d) {
		t.Errorf("corrupt blob: Fetch = %v, %v; log %s", got, err, buf)
	}
}

// A server that is not there: one warning and local-only, or an error
// when required.
func TestS3Unreachable(t *testing.T) {
	u, _ := url.Parse("s3://dagrun-test/x?endpoint=http://127.0.0.1:1")
	s, err := remote.OpenS3(u)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log, buf := logBuf()
	tier := &remote.Tier{Store: s, Cache: openCache(t), Log: log, Timeout: 5 * time.Second}
	for i := 0; i < 2; i++ {
		if got, err := tier.Fetch(ctx, "k"); got != nil || err != nil {
			t.Fatalf("Fetch = %v, %v; want a miss", got, err)
		}
	}
	if strings.Count(buf.String(), "remote cache unavailable") != 1 {
		t.Errorf("want one warning: %s", buf)
	}
}

// Against the real server: a parallel push and pull of many entries make
// at most 2 and 1 requests per object (counted as HTTP requests too), and
// reuse connections (keep-alive) instead of opening one per request.
func TestS3ParallelKeepAlive(t *testing.T) {
	ctx := context.Background()
	u := s3URL(t)
	s, err := remote.OpenS3(u)
	if err != nil {
		t.Fatal(err)
	}
	a := openCache(t)
	ents := manyEntries(t, a, 30)
	objects := int64(len(ents) + distinctBlobs(ents))
	const jobs = 6
	push := &remote.Tier{Store: s, Cache: a, Jobs: jobs, Required: true}
	if n, err := push.PushMany(ctx, ents); err != nil || n != len(ents) {
		t.Fatalf("PushMany = %d, %v", n, err)
	}
	if m := push.Moved(); m.Requests > 2*objects {
		t.Errorf("push: %d requests for %d objects", m.Requests, objects)
	}
	keys := make([]string, len(ents))
	for i, e := range ents {
		keys[i] = e.Key
	}
	s2, err := remote.OpenS3(u) // a fresh client: its own connections
	if err != nil {
		t.Fatal(err)
	}
	pull := &remote.Tier{Store: s2, Cache: openCache(t), Jobs: jobs, Required: true}
	got, err := pull.FetchMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ents {
		if got[i] == nil || got[i].Digest != e.Digest {
			t.Fatalf("key %s: fetched %v", e.Key, got[i])
		}
	}
	m := pull.Moved()
	if m.Requests > objects {
		t.Errorf("pull: %d requests for %d objects", m.Requests, objects)
	}
	if h := s2.HTTPRequests(); h != m.Requests {
		t.Errorf("pull: %d HTTP requests for %d store requests", h, m.Requests)
	}
	// Without keep-alive every request would dial; with it, about one
	// connection per worker (a request may start a moment before a
	// finished one's connection is back in the pool, so allow twice).
	if c := s2.Conns(); c > 2*jobs || c < 1 {
		t.Errorf("pull of %d objects opened %d connections, want 1..%d (keep-alive)", objects, c, 2*jobs)
	}
	t.Logf("pull: %d objects, %d requests (%d HTTP), %d connections", objects, m.Requests, s2.HTTPRequests(), s2.Conns())
}
