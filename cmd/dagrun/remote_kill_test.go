package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// s3Server is a versitygw process of the test's own (the shared one of
// scripts/s3/start.sh must not be killed), reached through a relay that
// kills the server with SIGKILL once a given number of bytes has gone one
// way: a deterministic "server died mid-transfer".
type s3Server struct {
	t       *testing.T
	bin     string
	data    string // versitygw's posix root; the bucket is a folder in it
	port    int
	cmd     *exec.Cmd
	relay   net.Listener
	budget  atomic.Int64 // bytes left before the kill; the way is upload
	upload  bool
	killed  atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	relayed sync.WaitGroup
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newS3Server needs bin/versitygw (scripts/s3/start.sh installs it) and
// an S3 server for the tests (DAGRUN_S3_ENDPOINT) as the sign that the S3
// tests are wanted.
func newS3Server(t *testing.T) *s3Server {
	t.Helper()
	if os.Getenv("DAGRUN_S3_ENDPOINT") == "" {
		t.Skip("no S3 server for the tests: run under scripts/test-services.sh (or scripts/s3/start.sh and export what it prints)")
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "versitygw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no bin/versitygw: scripts/s3/start.sh installs it")
	}
	s := &s3Server{t: t, bin: bin, data: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(s.data, "dagrun-test"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "kill-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kill-test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Cleanup(s.stop)
	return s
}

// start (re)starts the server on the same data and a fresh relay that
// kills it after budget bytes going up (upload) or down; budget < 0
// never kills. It returns the endpoint (the relay's address).
func (s *s3Server) start(budget int64, upload bool) string {
	s.t.Helper()
	s.stop()
	s.port = freePort(s.t)
	s.cmd = exec.Command(s.bin, "--port", fmt.Sprintf("127.0.0.1:%d", s.port), "--access", "kill-test",
		"--secret", "kill-test-secret", "--keep-alive", "posix", s.data)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			s.t.Fatalf("versitygw did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.relay, s.upload = ln, upload
	s.killed.Store(false)
	if budget < 0 {
		budget = 1 << 62
	}
	s.budget.Store(budget)
	s.relayed.Add(1)
	go s.serve(ln)
	return "http://" + ln.Addr().String()
}

func (s *s3Server) serve(ln net.Listener) {
	defer s.relayed.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		d, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err != nil {
			c.Close()
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, c, d)
		s.mu.Unlock()
		s.relayed.Add(2)
		go s.pipe(d, c, s.upload)
		go s.pipe(c, d, !s.upload)
	}
}

// pipe copies src to dst; counted pipes spend the budget and, when it
// runs out, kill the server.
func (s *s3Server) pipe(dst, src net.Conn, counted bool) {
	defer s.relayed.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if counted && s.budget.Add(-int64(n)) <= 0 {
				s.kill()
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// kill SIGKILLs the server and closes the relay and every connection, as a
// machine that went away would.
func (s *s3Server) kill() {
	if s.killed.Swap(true) {
		return
	}
	s.cmd.Process.Kill()
	s.relay.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
}

func (s *s3Server) stop() {
	if s.cmd == nil {
		return
	}
	s.kill()
	s.cmd.Wait()
	s.relayed.Wait()
	s.cmd = nil
}

// checkNoEntryWithoutBlobs reads the bucket's folder directly: every entry
// object must have every blob it names, whole.
func (s *s3Server) checkNoEntryWithoutBlobs(prefix string) (entries int) {
	s.t.Helper()
	root := filepath.Join(s.data, "dagrun-test", prefix)
	ents, err := os.ReadDir(filepath.Join(root, "entries"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		s.t.Fatal(err)
	}
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "entries", de.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		var e struct {
			Manifest []struct {
				Digest string
				Size   int64
			}
			LogDigest string `json:"log_digest"`
			LogSize   int64  `json:"log_size"`
		}
		if err := json.Unmarshal(b, &e); err != nil {
			s.t.Errorf("entry %s does not decode: %v", de.Name(), err)
			continue
		}
		if e.LogDigest != "" {
			e.Manifest = append(e.Manifest, struct {
				Digest string
				Size   int64
			}{e.LogDigest, e.LogSize})
		}
		for _, f := range e.Manifest {
			fi, err := os.Stat(filepath.Join(root, "blobs", f.Digest[:2], f.Digest[2:]))
			if err != nil || fi.Size() != f.Size {
				s.t.Errorf("the remote holds entry %s without its blob %s (%v)", de.Name(), f.Digest, err)
			}
		}
		entries++
	}
	return entries
}

// bigSpec has a seed and 6 cells of about 4 MB each.
const bigSpec = `name: big
matrix:
  cell: [a, b, c, d, e, f]
nodes:
  seed:
    kind: command
    params: {argv: [sh, -c, "echo seed > {out}/s"]}
  blob:
    kind: command
    inputs: {in: seed}
    params: {argv: [sh, -c, "yes ${cell}-$(cat {in.in}/s) | head -c 3000000 > {out}/x; yes ${cell} | head -c 1000000 > {out}/y"]}
`

// The S3 server killed with SIGKILL in the middle of a pull or a push
// (a run's read-through and write-back, and remote pull|push): a run
// finishes local-only with one warning, or exits 3 under
// --remote-required; the local cache stays consistent (cache verify, and
// the same outputs as a run without a remote); and the remote never holds
// an entry without its blobs, checked on the server's disk.
func TestS3ServerKilledMidRun(t *testing.T) {
	srv := newS3Server(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "big.yaml")
	write(t, spec, bigSpec)
	url := func(ep, prefix string) string { return fmt.Sprintf("s3://dagrun-test/%s?endpoint=%s", prefix, ep) }
	ref := filepath.Join(dir, "ref")
	if r := cli(t, dir, "--cache", ref, "-q", spec); r.code != 0 {
		t.Fatal(r.stderr)
	}
	want := cli(t, dir, "--cache", ref, "plan", "--json", spec).stdout
	consistent := func(name, cacheDir string) {
		t.Helper()
		if r := cli(t, dir, "--cache", cacheDir, "cache", "verify"); r.code != 0 {
			t.Errorf("%s: cache verify: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}

	// Push: a run's write-back, killed a third of the way up.
	ep := srv.start(5<<20, true)
	cA := filepath.Join(dir, "cacheA")
	r := cli(t, dir, "--cache", cA, "--remote", url(ep, "run"), spec)
	if r.code != 0 || strings.Count(r.stderr, "remote cache unavailable") != 1 {
		t.Errorf("write-back run, server killed: exit %d, want 0 with one warning\n%s", r.code, r.stderr)
	}
	if !srv.killed.Load() {
		t.Error("the server was not killed during the run")
	}
	consistent("write-back run", cA)
	if got := cli(t, dir, "--cache", cA, "plan", "--json", spec).stdout; got != want {
		t.Errorf("write-back run: outputs differ from a run without a remote:\n%s\n%s", got, want)
	}
	t.Logf("write-back run: the remote holds %d entries, each with its blobs", srv.checkNoEntryWithoutBlobs("run"))

	// Push: remote push, killed halfway; it exits 3.
	srv.start(12<<20, true)
	ep = "http://" + srv.relay.Addr().String()
	r = cli(t, dir, "--cache", cA, "--remote", url(ep, "push"), "remote", "push", spec)
	if r.code != 3 || !srv.killed.Load() {
		t.Errorf("remote push, server killed: exit %d (killed %v), want 3\n%s", r.code, srv.killed.Load(), r.stderr)
	}
	n := srv.checkNoEntryWithoutBlobs("push")
	t.Logf("remote push killed: the remote holds %d entries, each with its blobs", n)

	// A complete push, then pulls killed on the way down.
	ep = srv.start(-1, false)
	if r := cli(t, dir, "--cache", cA, "--remote", url(ep, "full"), "remote", "push", spec); r.code != 0 {
		t.Fatalf("full push: exit %d\n%s", r.code, r.stderr)
	}
	if srv.checkNoEntryWithoutBlobs("full") != 7 {
		t.Fatal("the full push did not leave 7 entries")
	}
	// A run's read-through: local-only after one warning, same outputs.
	ep = srv.start(10<<20, false)
	cB := filepath.Join(dir, "cacheB")
	r = cli(t, dir, "--cache", cB, "--remote", url(ep, "full"), spec)
	if r.code != 0 || strings.Count(r.stderr, "remote cache unavailable") != 1 || !srv.killed.Load() {
		t.Errorf("read-through run, server killed: exit %d (killed %v), want 0 with one warning\n%s", r.code, srv.killed.Load(), r.stderr)
	}
	consistent("read-through run", cB)
	if got := cli(t, dir, "--cache", cB, "plan", "--json", spec).stdout; got != want {
		t.Errorf("read-through run: outputs differ from a run without a remote:\n%s\n%s", got, want)
	}
	// The same under --remote-required: exit 3, the cache consistent.
	ep = srv.start(10<<20, false)
	cC := filepath.Join(dir, "cacheC")
	if r := cli(t, dir, "--cache", cC, "--remote", url(ep, "full"), "--remote-required", spec); r.code != 3 || !srv.killed.Load() {
		t.Errorf("--remote-required run, server killed: exit %d (killed %v), want 3\n%s", r.code, srv.killed.Load(), r.stderr)
	}
	consistent("--remote-required run", cC)
	// remote pull: exit 3, what it registered is whole.
	ep = srv.start(10<<20, false)
	cD := filepath.Join(dir, "cacheD")
	if r := cli(t, dir, "--cache", cD, "--remote", url(ep, "full"), "remote", "pull", spec); r.code != 3 || !srv.killed.Load() {
		t.Errorf("remote pull, server killed: exit %d (killed %v), want 3\n%s", r.code, srv.killed.Load(), r.stderr)
	}
	consistent("remote pull", cD)
	// The remote is intact: a pull from the restarted server gets all.
	ep = srv.start(-1, false)
	if r := cli(t, dir, "--cache", cD, "--remote", url(ep, "full"), "--expect-cached", spec); r.code != 0 || strings.Contains(r.stderr, "refusing") {
		t.Errorf("rerun against the restarted server: exit %d\n%s", r.code, r.stderr)
	}
	consistent("after the restart", cD)
}
