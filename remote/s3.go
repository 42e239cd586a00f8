package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Store is a Store in a bucket of any S3-compatible server. Objects are
// PREFIX/NAME; PUT is atomic on S3, so a reader sees a whole object or none.
type S3Store struct {
	client *minio.Client
	bucket string
	prefix string
	conns  atomic.Int64
	reqs   atomic.Int64
}

// Conns returns how many connections the store has opened: with
// keep-alive, about as many as requests were ever in flight at once, not
// one per request.
func (s *S3Store) Conns() int64 { return s.conns.Load() }

// HTTPRequests returns how many HTTP requests the client has sent,
// retries and any bucket-location lookup included.
func (s *S3Store) HTTPRequests() int64 { return s.reqs.Load() }

// counted counts the requests that go through a transport.
type counted struct {
	http.RoundTripper
	n *atomic.Int64
}

func (c counted) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// OpenS3 opens s3://BUCKET/PREFIX. The query may set endpoint
// (http://host:port or https://…; default $AWS_ENDPOINT_URL, else AWS),
// region (default $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1) and
// path-style (true or false; default true for an explicit endpoint).
// Credentials come from the usual AWS chain: the environment, the shared
// credentials file, then the instance's role; never from a spec.
func OpenS3(u *url.URL) (*S3Store, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("s3 URL %q names no bucket: s3://BUCKET/PREFIX", u.Redacted())
	}
	q := u.Query()
	endpoint := q.Get("endpoint")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	region := q.Get("region")
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(v)
		}
	}
	if region == "" {
		// Naming the region spares a bucket-location request per client.
		region = "us-east-1"
	}
	secure, host := true, "s3.amazonaws.com"
	lookup := minio.BucketLookupAuto
	if endpoint != "" {
		e, err := url.Parse(endpoint)
		if err != nil || e.Host == "" {
			return nil, fmt.Errorf("s3 endpoint %q: want http://host:port or https://host", endpoint)
		}
		secure, host = e.Scheme == "https", e.Host
		lookup = minio.BucketLookupPath
	}
	switch q.Get("path-style") {
	case "true":
		lookup = minio.BucketLookupPath
	case "false":
		lookup = minio.BucketLookupDNS
	case "":
	default:
		return nil, fmt.Errorf("s3 URL: path-style=%q: want true or false", q.Get("path-style"))
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
	})
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	// Keep an idle connection for every request a tier may have in flight,
	// so that parallel transfers reuse connections instead of opening one
	// per request (a TCP and, with https, a TLS handshake each).
	tr.MaxIdleConnsPerHost = 64
	st := &S3Store{bucket: u.Host}
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		st.conns.Add(1)
		return dial(ctx, network, addr)
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: region, BucketLookup: lookup,
		Transport: counted{tr, &st.reqs}, MaxRetries: 3})
	if err != nil {
		return nil, err
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	st.client, st.prefix = c, prefix
	return st, nil
}

func notFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey"
}

// Get downloads the object in one GET (minio-go's Object would send a HEAD
// first), so a missing object is ErrNotExist at once.
func (s *S3Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, s.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
		}
		return nil, err
	}
	return body, nil
}

// Has sends a HEAD.
func (s *S3Store) Has(ctx context.Context, name string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.prefix+name, minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Put uploads the object in one PUT (multipart above minio-go's part size).
func (s *S3Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size == 0 {
		// An empty chunked body upsets some servers: send it plainly.
		opts.DisableContentSha256 = true
		r = bytes.NewReader(nil)
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+name, r, size, opts)
	return err
}
