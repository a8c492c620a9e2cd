package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func newTLSConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

// Push uploads img or idx (exactly one non-nil) to ref and returns the
// digest of the pushed manifest. Blobs the repository already holds are
// skipped (HEAD), blobs another repository of the same registry holds
// (Options.MountFrom, then the push history) are mounted, the rest are
// uploaded with at most Options.Jobs in parallel. Failed requests are
// retried with backoff; a registry that stays down gives an error naming it.
func Push(ctx context.Context, ref string, img v1.Image, idx v1.ImageIndex, opt Options) (v1.Hash, error) {
	if (img == nil) == (idx == nil) {
		return v1.Hash{}, errors.New("registry.Push: give exactly one of an image or an index")
	}
	r, err := ParseReference(ref, opt)
	if err != nil {
		return v1.Hash{}, err
	}
	var (
		t      remote.Taggable
		digest v1.Hash
	)
	if img != nil {
		t = img
		digest, err = img.Digest()
	} else {
		t = idx
		digest, err = idx.Digest()
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: computing the manifest digest: %w", r, err)
	}

	ropts := opt.remoteOptions(ctx)
	hist := loadHistory(opt.History)
	sources := mountSources(r.Context(), opt.MountFrom, hist)
	if len(sources) > 0 {
		m, err := newMounter(ctx, r.Context(), sources, opt)
		if err != nil {
			return v1.Hash{}, opt.explain(ctx, "pushing", r, err)
		}
		if img != nil {
			t = &mountImage{Image: img, m: m}
		} else {
			t = &mountIndex{idx: idx, m: m}
		}
	}

	var prog *progressLine
	if opt.Progress != nil {
		prog = newProgressLine(opt.Progress, r.String())
		ropts = append(ropts, remote.WithProgress(prog.updates))
	}
	err = remote.Push(r, t, ropts...)
	if prog != nil {
		prog.wait(err)
	}
	if err != nil {
		return v1.Hash{}, opt.explain(ctx, "pushing", r, err)
	}
	if opt.History != "" {
		// The history is a hint; failing to record it never fails a push.
		_ = recordPush(opt.History, r.Context())
	}
	return digest, nil
}

// mountSources lists the repositories of target's registry to try mounting
// blobs from: the user's first, then the history's, without the target
// itself and without duplicates, at most maxMountSources.
func mountSources(target name.Repository, user []string, hist history) []name.Repository {
	const maxMountSources = 8
	seen := map[string]bool{target.String(): true}
	var out []name.Repository
	add := func(s string) {
		if len(out) >= maxMountSources {
			return
		}
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		var nopts []name.Option
		if target.Scheme() == "http" {
			nopts = append(nopts, name.Insecure)
		}
		if !hasRegistryHost(s) {
			// A bare "repo" names a repository on the target's registry.
			s = target.RegistryStr() + "/" + s
		}
		repo, err := name.NewRepository(s, nopts...)
		if err != nil {
			return
		}
		if repo.RegistryStr() != target.RegistryStr() || seen[repo.String()] {
			return
		}
		seen[repo.String()] = true
		out = append(out, repo)
	}
	for _, s := range user {
		add(s)
	}
	for _, s := range hist.repos(target.RegistryStr()) {
		add(target.RegistryStr() + "/" + s)
	}
	return out
}

// hasRegistryHost reports whether a repository string starts with a
// registry host, the way Docker tells them apart: a first component with a
// "." or a ":", or "localhost".
func hasRegistryHost(s string) bool {
	first, _, found := strings.Cut(s, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// mounter finds, for a blob, a repository of the target's registry that
// holds it, by HEAD requests with one token scoped to pull from them all.
type mounter struct {
	ctx     context.Context
	target  name.Repository
	sources []name.Repository
	client  *http.Client
	jobs    int
}

func newMounter(ctx context.Context, target name.Repository, sources []name.Repository, opt Options) (*mounter, error) {
	client, err := scopedClient(ctx, target, sources, opt)
	if err != nil {
		return nil, err
	}
	return &mounter{ctx: ctx, target: target, sources: sources, client: client, jobs: opt.jobs()}, nil
}

// source returns the repository to mount blob h from, or nil.
func (m *mounter) source(h v1.Hash) *name.Repository {
	if ok, _ := m.has(m.target, h); ok {
		return nil // remote skips it after its own HEAD
	}
	for i := range m.sources {
		if ok, _ := m.has(m.sources[i], h); ok {
			return &m.sources[i]
		}
	}
	return nil
}

func (m *mounter) has(repo name.Repository, h v1.Hash) (bool, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), h)
	req, err := http.NewRequestWithContext(m.ctx, http.MethodHead, u, nil)
	if err != nil {
		return false, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func (m *mounter) wrap(l v1.Layer) v1.Layer {
	h, err := l.Digest()
	if err != nil {
		return l
	}
	src := m.source(h)
	if src == nil {
		return l
	}
	return &remote.MountableLayer{Layer: l, Reference: src.Digest(h.String())}
}

// WriteLayer uploads one layer's blob to ref's repository ahead of its
// manifest (a streaming push); a blob the repository has is skipped, one
// another repository of the registry holds (Options.MountFrom, the push
// history) is mounted.
func WriteLayer(ctx context.Context, ref string, l v1.Layer, opt Options) error {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return err
	}
	if sources := mountSources(r.Context(), opt.MountFrom, loadHistory(opt.History)); len(sources) > 0 {
		if m, err := newMounter(ctx, r.Context(), sources, opt); err == nil {
			// Without a mounter the blob is uploaded, as before.
			l = m.wrap(l)
		}
	}
	if err := remote.WriteLayer(r.Context(), l, opt.remoteOptions(ctx)...); err != nil {
		return opt.explain(ctx, "pushing a layer to", r, err)
	}
	return nil
}
