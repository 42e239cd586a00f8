package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/remote"

	"github.com/spf13/cobra"
)

// remoteFlags are the flags of the remote tier, shared by every command.
type remoteFlags struct {
	url      string
	readOnly bool
	required bool
	signKey  string
	trust    []string
	jobs     int
}

func (a *app) addRemoteFlags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.remote.url, "remote", "", "remote cache tier: file:///path or s3://BUCKET/PREFIX[?endpoint=URL&region=R&path-style=true] (default $DAGRUN_REMOTE)")
	pf.BoolVar(&a.remote.readOnly, "remote-read-only", false, "fetch from the remote but never write to it")
	pf.BoolVar(&a.remote.required, "remote-required", false, "exit 3 instead of going local-only when the remote fails")
	pf.StringVar(&a.remote.signKey, "remote-sign-key", "", "sign every pushed entry with this secret key `FILE` (dagrun remote keygen)")
	pf.StringArrayVar(&a.remote.trust, "remote-trust-key", nil, "use only remote entries signed by this public key `FILE` (repeatable; default $DAGRUN_REMOTE_TRUST, comma-separated)")
	pf.IntVar(&a.remote.jobs, "remote-jobs", remote.DefaultJobs, "requests to the remote in flight at once")
}

// openRemote returns the tier the flags ask for, or nil without a remote.
func (a *app) openRemote(c *cache.Cache) (*remote.Tier, error) {
	raw := a.remote.url
	if raw == "" {
		raw = os.Getenv("DAGRUN_REMOTE")
	}
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote %q: %v", raw, err))
	}
	var store remote.Store
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote %q: a file URL names a local path: file:///path", raw))
		}
		store = &remote.FileStore{Root: filepath.Clean(u.Path)}
	case "s3":
		s3, err := remote.OpenS3(u)
		if err != nil {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote: %v", err))
		}
		store = s3
	default:
		return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote %q: unsupported scheme %q (supported: file, s3)", raw, u.Scheme))
	}
	if a.remote.jobs < 1 {
		return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote-jobs (-j of remote push|pull) %d: want at least 1 request in flight", a.remote.jobs))
	}
	t := &remote.Tier{Store: store, Cache: c, Log: a.log, ReadOnly: a.remote.readOnly, Required: a.remote.required, Jobs: a.remote.jobs}
	if a.remote.signKey != "" {
		if t.Sign, err = remote.ReadSignKey(a.remote.signKey); err != nil {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote-sign-key: %v", err))
		}
	}
	trust := a.remote.trust
	if len(trust) == 0 && os.Getenv("DAGRUN_REMOTE_TRUST") != "" {
		trust = strings.Split(os.Getenv("DAGRUN_REMOTE_TRUST"), ",")
	}
	for _, f := range trust {
		k, err := remote.ReadTrustKey(f)
		if err != nil {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --remote-trust-key: %v", err))
		}
		t.Trust = append(t.Trust, k)
	}
	return t, nil
}

// remoteDown turns a failure of a required remote into exit 3.
func remoteDown(t *remote.Tier) error {
	if t != nil && t.Required && t.Down() != nil {
		return withCode(exitCacheIO, fmt.Errorf("dagrun: --remote-required: %w", t.Down()))
	}
	return nil
}

// pull fetches every entry of g the remote has and the local cache lacks.
// Keys are learned level by level (a node's key needs its inputs' output
// digests): each level's keys are looked up locally, then the ones missing
// in the remote (remote.Tier.Lookup, one parallel batch of entry requests
// a level), and a remote entry's manifest gives the output digest its
// downstream keys need, before any blob is fetched. The blobs of each
// level's entries start downloading as soon as they are found
// (remote.ImportRun.Add), while the next levels are looked up; at the end
// every entry is registered with one sync pass and one transaction
// (remote.ImportRun.Finish). tr, when not nil, shows the progress. It
// returns the number of entries fetched.
func pull(ctx context.Context, g *dag.Graph, c *cache.Cache, t *remote.Tier, tr *transfer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run, err := t.StartImport(ctx)
	if err != nil {
		return 0, withCode(exitCacheIO, err)
	}
	n, walkErr := walkRemote(ctx, g, c, t, tr, run)
	if walkErr != nil {
		cancel() // what is downloading will not be registered
	}
	got, err := run.Finish()
	fetched := 0
	for _, e := range got {
		if e != nil {
			fetched++
		}
	}
	tr.add(fetched - n) // what was refused will not come
	if walkErr != nil {
		return fetched, walkErr
	}
	if err != nil {
		return fetched, withCode(exitCacheIO, fmt.Errorf("remote fetch: %w", err))
	}
	return fetched, nil
}

// walkRemote learns the keys of g level by level and adds every entry the
// local cache lacks and the remote has to run; it returns how many.
func walkRemote(ctx context.Context, g *dag.Graph, c *cache.Cache, t *remote.Tier, tr *transfer, run *remote.ImportRun) (int, error) {
	ent := map[*dag.Node]*cache.Entry{} // local or found in the remote
	done := map[*dag.Node]bool{}        // keyed, or never keyable here
	added := 0
	for len(done) < len(g.Order) {
		// The next level: the nodes whose inputs were all settled by the
		// levels before (keyed with an entry, or never keyable here).
		var ready, level []*dag.Node
		for _, n := range g.Order {
			if !done[n] && !slices.ContainsFunc(n.Inputs, func(e dag.Edge) bool { return !done[e.From] }) {
				ready = append(ready, n)
			}
		}
		for _, n := range ready {
			done[n] = true
			if !slices.ContainsFunc(n.Inputs, func(e dag.Edge) bool { return ent[e.From] == nil }) {
				level = append(level, n)
			}
		}
		if len(level) == 0 {
			continue
		}
		// The level's keys, its nodes fingerprinted in parallel (the first
		// level hashes the datasets' files into the memo of a new cache).
		parts := make([]*dag.KeyParts, len(level))
		errs := make([]error, len(level))
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for i, n := range level {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				parts[i], errs[i] = dag.Parts(ctx, n, c, func(up *dag.Node) *cache.Entry { return ent[up] })
			}()
		}
		wg.Wait()
		keyOf := make(map[*dag.Node]string, len(level))
		var keys []string
		for i, n := range level {
			if errs[i] != nil {
				return added, withCode(exitCacheIO, &dag.NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: "fingerprint", Err: errs[i]})
			}
			keyOf[n] = parts[i].Key()
			keys = append(keys, keyOf[n])
		}
		local, err := c.GetMany(ctx, keys)
		if err != nil {
			return added, withCode(exitCacheIO, err)
		}
		var missing []string
		asked := map[string]bool{}
		for _, n := range level {
			k := keyOf[n]
			if e := local[k]; e != nil {
				ent[n] = e
			} else if !asked[k] {
				asked[k] = true
				missing = append(missing, k)
				tr.name(k, n.Name())
			}
		}
		if len(missing) == 0 {
			continue
		}
		got, err := t.Lookup(ctx, missing)
		if err != nil {
			return added, withCode(exitCacheIO, fmt.Errorf("remote fetch: %w", err))
		}
		byKey := map[string]*cache.Entry{}
		for _, f := range got {
			if f != nil {
				byKey[f.Entry().Key] = f.Entry()
			}
		}
		tr.add(len(byKey))
		added += len(byKey)
		run.Add(got)
		for _, n := range level {
			if e := byKey[keyOf[n]]; e != nil {
				ent[n] = e
			}
		}
		if t.Down() != nil {
			break
		}
	}
	return added, nil
}

func (a *app) remoteCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "remote", Short: "share the cache through a remote tier (keygen, push, pull)"}
	var dir string
	keygen := &cobra.Command{
		Use: "keygen NAME", Short: "write an ed25519 key pair NAME.sec and NAME.pub", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sec, pub, err := remote.Keygen(dir, args[0])
			if err != nil {
				return withCode(exitInvalid, fmt.Errorf("dagrun: remote keygen: %v", err))
			}
			fmt.Fprintf(a.stdout, "secret key %s (give it to the jobs that push)\npublic key %s (give it to every reader: --remote-trust-key)\n", sec, pub)
			return nil
		},
	}
	keygen.Flags().StringVar(&dir, "dir", ".", "where to write the key files")
	sync := func(use, short string, push bool) *cobra.Command {
		cmd := &cobra.Command{
			Use: use + " SPEC...", Short: short, Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.syncSpecs(cmd.Context(), args, push)
			},
		}
		// -j here counts requests, not node weights: it shadows the
		// run's CPU budget.
		cmd.Flags().IntVarP(&a.remote.jobs, "jobs", "j", remote.DefaultJobs, "requests to the remote in flight at once")
		cmd.Flags().BoolVar(&a.plain, "plain", false, "plain progress lines even on a terminal")
		return cmd
	}
	status := &cobra.Command{
		Use: "status SPEC", Short: "say per node whether its entry is local, remote or neither", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.remoteStatus(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(keygen, status,
		sync("push", "push every cached entry the specs reach", true),
		sync("pull", "fetch every entry the specs reach that the remote has", false))
	return cmd
}

// syncSpecs pushes or pulls every entry the specs reach, with progress,
// and prints a summary: entries, blobs, bytes, requests, seconds.
func (a *app) syncSpecs(ctx context.Context, paths []string, push bool) error {
	start := time.Now()
	verb := "pull"
	if push {
		verb = "push"
	}
	tr := newTransfer(a, verb)
	var moved remote.Moved
	var err error
	for _, path := range paths {
		var m remote.Moved
		m, err = a.syncSpec(ctx, path, push, tr)
		moved.Entries += m.Entries
		moved.Blobs += m.Blobs
		moved.Bytes += m.Bytes
		moved.Requests += m.Requests
		if err != nil {
			break
		}
	}
	tr.close()
	fmt.Fprintf(a.stderr, "%s: %d entries, %d blobs, %s, %d requests in %s\n", verb,
		moved.Entries, moved.Blobs, byteSize(moved.Bytes), moved.Requests, roundDur(time.Since(start)))
	return err
}

func (a *app) syncSpec(ctx context.Context, path string, push bool, tr *transfer) (remote.Moved, error) {
	g, c, err := a.loadWithCache(path)
	if err != nil {
		return remote.Moved{}, err
	}
	defer c.Close()
	t, err := a.openRemote(c)
	if err != nil {
		return remote.Moved{}, err
	}
	if t == nil {
		return remote.Moved{}, withCode(exitInvalid, fmt.Errorf("dagrun: no remote: give --remote URL or set DAGRUN_REMOTE"))
	}
	t.Required = true
	t.Progress = tr.done
	if !push {
		_, err := pull(ctx, g, c, t, tr)
		return t.Moved(), err
	}
	if t.ReadOnly {
		return remote.Moved{}, withCode(exitInvalid, fmt.Errorf("dagrun: remote push with --remote-read-only"))
	}
	p, err := dag.MakePlan(ctx, g, c, "")
	if err != nil {
		return remote.Moved{}, withCode(exitCacheIO, err)
	}
	var ents []*cache.Entry
	for _, it := range p.Items {
		if it.Status == dag.WillHit {
			ents = append(ents, it.Entry)
			tr.name(it.Key, it.Node.Name())
		}
	}
	tr.add(len(ents))
	if _, err := t.PushMany(ctx, ents); err != nil {
		return t.Moved(), withCode(exitCacheIO, fmt.Errorf("remote push: %w", err))
	}
	return t.Moved(), nil
}

// remoteStatus prints, per node in spec order, "local", "remote" (the
// remote has an entry for its key, not yet checked) or "neither"; a node
// whose key is not known until an upstream node is computed or fetched is
// "unknown".
func (a *app) remoteStatus(ctx context.Context, path string) error {
	g, c, err := a.loadWithCache(path)
	if err != nil {
		return err
	}
	defer c.Close()
	t, err := a.openRemote(c)
	if err != nil {
		return err
	}
	if t == nil {
		return withCode(exitInvalid, fmt.Errorf("dagrun: no remote: give --remote URL or set DAGRUN_REMOTE"))
	}
	p, err := dag.MakePlan(ctx, g, c, "")
	if err != nil {
		return withCode(exitCacheIO, err)
	}
	for _, it := range p.Items {
		where := "unknown (an upstream node is not local)"
		switch it.Status {
		case dag.WillHit:
			where = "local"
		case dag.WillRun:
			has, err := t.Has(ctx, it.Key)
			if err != nil {
				return withCode(exitCacheIO, fmt.Errorf("dagrun: remote status: node %q: %w", it.Node.Name(), err))
			}
			where = "neither"
			if has {
				where = "remote"
			}
		}
		fmt.Fprintf(a.stdout, "%s\t%s\n", it.Node.Name(), where)
	}
	return nil
}
