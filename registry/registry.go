package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stratabuild/strata/internal/httpretry"
)

// Options configure every registry operation. The zero value is usable:
// default keychain, quiet, 4 parallel uploads, 3 retries.
type Options struct {
	// Insecure allows plain HTTP (and unverified TLS) to any registry.
	// Without it plain HTTP is used only for loopback registries
	// (127.0.0.0/8, localhost, [::1]).
	Insecure bool
	// Keychain resolves credentials; nil means authn.DefaultKeychain
	// (~/.docker/config.json or $DOCKER_CONFIG/config.json and credential
	// helpers).
	Keychain authn.Keychain
	// Progress receives a progress line while pushing: an updating line
	// when it is a terminal, one summary line otherwise. nil is quiet.
	Progress io.Writer
	// Jobs bounds parallel blob uploads; 0 means 4.
	Jobs int
	// MountFrom names repositories ("host/repo" or "repo" on the target's
	// registry) to mount blobs from instead of uploading them.
	MountFrom []string
	// Retries is how many times a failed request (5xx, 408, 429, refused
	// or dropped connection) is retried with exponential backoff; 0 means
	// 5, a negative value disables retries. With the default delays a
	// registry that stays down fails a push after about 12 seconds.
	Retries int
	// RetryDelay is the first backoff delay; 0 means 500ms. It doubles on
	// every retry, up to 4s.
	RetryDelay time.Duration
	// History is the path of a small JSON record of the repositories
	// strata pushed to on this machine, used as automatic mount sources
	// and updated (atomically) after each push. "" disables it.
	History string
	// Transport is the base HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
}

const (
	defaultJobs       = 4
	defaultRetries    = 5
	defaultRetryDelay = 500 * time.Millisecond
)

func (o Options) jobs() int {
	if o.Jobs <= 0 {
		return defaultJobs
	}
	return o.Jobs
}

func (o Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

func (o Options) retries() int {
	switch {
	case o.Retries == 0:
		return defaultRetries
	case o.Retries < 0:
		return 0
	}
	return o.Retries
}

func (o Options) retryDelay() time.Duration {
	if o.RetryDelay <= 0 {
		return defaultRetryDelay
	}
	return o.RetryDelay
}

// backoff is go-containerregistry's outer retry of whole operations.
func (o Options) backoff() remote.Backoff {
	// Steps counts attempts, the first one included.
	return remote.Backoff{Duration: o.retryDelay(), Factor: 2, Jitter: 0.1, Steps: min(o.retries(), 2) + 1}
}

// baseTransport is Options.Transport (or remote's default), with TLS
// verification off when Insecure.
func (o Options) baseTransport() http.RoundTripper {
	base := o.Transport
	if base == nil {
		base = remote.DefaultTransport
	}
	if !o.Insecure {
		return base
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return base
	}
	t = t.Clone()
	if t.TLSClientConfig != nil {
		t.TLSClientConfig = t.TLSClientConfig.Clone()
	} else {
		t.TLSClientConfig = newTLSConfig()
	}
	t.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // asked for with --insecure
	return t
}

// transport is the HTTP stack under go-containerregistry's: per-request
// retries over the plain-HTTP guard over base.
func (o Options) transport(base http.RoundTripper) http.RoundTripper {
	return &httpretry.Transport{
		Inner:  &plainHTTPGuard{inner: base, insecure: o.Insecure},
		Policy: httpretry.Policy{Attempts: o.retries() + 1, Delay: o.retryDelay()},
	}
}

// remoteOptions turns Options into go-containerregistry options.
func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	base := o.baseTransport()
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain()),
		remote.WithTransport(o.transport(base)),
		remote.WithJobs(o.jobs()),
		// Requests are retried one by one by o.transport; what remains
		// for go-containerregistry is restarting a whole blob upload
		// after an error that transport could not retry.
		remote.WithRetryBackoff(o.backoff()),
		remote.WithRetryPredicate(outerRetryable),
		remote.WithRetryStatusCodes(),
		remote.WithUserAgent("strata"),
	}
}

// ParseReference parses an image reference ("host/repo:tag",
// "host/repo@sha256:...", optionally prefixed with "http://" to ask for
// plain HTTP). Plain HTTP is allowed for loopback registries and, with
// Options.Insecure, for any registry; other requests for it are an error
// naming --insecure.
func ParseReference(ref string, opt Options) (name.Reference, error) {
	s := ref
	insecure := opt.Insecure
	switch {
	case strings.HasPrefix(s, "https://"):
		s = strings.TrimPrefix(s, "https://")
	case strings.HasPrefix(s, "http://"):
		s = strings.TrimPrefix(s, "http://")
		host, _, _ := strings.Cut(s, "/")
		if !insecure && !IsLoopback(host) {
			return nil, fmt.Errorf("image reference %q asks for plain HTTP to %s, which is not a loopback registry: pass --insecure to allow it, or drop http:// to use HTTPS", ref, host)
		}
		insecure = true
	}
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(s, nopts...)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w (write it as HOST[:PORT]/REPOSITORY[:TAG] or HOST/REPOSITORY@sha256:DIGEST)", ref, err)
	}
	return r, nil
}

// IsLoopback reports whether a registry host[:port] names the loopback
// interface: localhost, 127.0.0.0/8 or [::1].
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainHTTPGuard refuses plain-HTTP requests to non-loopback hosts unless
// insecure: go-containerregistry falls back to HTTP for private-network
// addresses on its own, and strata only does that when asked.
type plainHTTPGuard struct {
	inner    http.RoundTripper
	insecure bool
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.insecure && !IsLoopback(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("refusing plain HTTP to %s (not a loopback registry): pass --insecure to allow it", req.URL.Host)
	}
	return g.inner.RoundTrip(req)
}

// Pull resolves ref and returns the image or the index it names (exactly
// one of the two is non-nil). The result is addressed by digest, so it does
// not change if the tag moves while it is read.
func Pull(ctx context.Context, ref string, opt Options) (v1.Image, v1.ImageIndex, error) {
	return pull(ctx, ref, opt, opt.remoteOptions(ctx))
}

func pull(ctx context.Context, ref string, opt Options, ropts []remote.Option) (v1.Image, v1.ImageIndex, error) {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return nil, nil, err
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, nil, opt.explain(ctx, "pulling", r, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, nil, opt.explain(ctx, "pulling", r, err)
		}
		return nil, idx, nil
	}
	if !desc.MediaType.IsImage() {
		return nil, nil, fmt.Errorf("pulling %s: it is a %s, not an image or an image index", r, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, opt.explain(ctx, "pulling", r, err)
	}
	return img, nil, nil
}

// explain wraps a registry error with what was done and, for the common
// failures, what to do about it.
func (o Options) explain(ctx context.Context, doing string, r name.Reference, err error) error {
	reg := r.Context().RegistryStr()
	var ex *httpretry.ExhaustedError
	if errors.As(err, &ex) {
		if ex.Status != 0 {
			return fmt.Errorf("%s %s: registry %s kept failing (HTTP %d) after %d attempts: check that it is up and healthy, then try again: %w", doing, r, reg, ex.Status, ex.Attempts, err)
		}
		return fmt.Errorf("%s %s: registry %s does not answer after %d attempts: check that it is running and the address is right: %w", doing, r, reg, ex.Attempts, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			if auth, aerr := authn.Resolve(ctx, o.keychain(), r.Context()); aerr == nil && auth == authn.Anonymous {
				return fmt.Errorf("%s %s: registry %s needs credentials and none are configured for it (HTTP %d): run `docker login %s` (strata reads $DOCKER_CONFIG/config.json, else ~/.docker/config.json, and their credential helpers): %w", doing, r, reg, terr.StatusCode, reg, err)
			}
			return fmt.Errorf("%s %s: registry %s refused the credentials (HTTP %d): run `docker login %s` or fix the entry for it in $DOCKER_CONFIG/config.json: %w", doing, r, reg, terr.StatusCode, reg, err)
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: not found on registry %s: check the repository and tag: %w", doing, r, reg, err)
		}
		if terr.Temporary() {
			return fmt.Errorf("%s %s: registry %s kept failing (HTTP %d) after retries: check that it is up and healthy, then try again: %w", doing, r, reg, terr.StatusCode, err)
		}
		return fmt.Errorf("%s %s: %w", doing, r, err)
	}
	if strings.Contains(err.Error(), "refusing plain HTTP") {
		return fmt.Errorf("%s %s: %w", doing, r, err)
	}
	var nerr net.Error
	var operr *net.OpError
	if errors.As(err, &operr) || errors.As(err, &nerr) || retryable(err) {
		return fmt.Errorf("%s %s: registry %s does not answer: check that it is running and the address is right: %w", doing, r, reg, err)
	}
	return fmt.Errorf("%s %s: %w", doing, r, err)
}
