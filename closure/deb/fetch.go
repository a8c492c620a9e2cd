package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/internal/httpretry"
)

// fetchAttempts bounds the tries per URL; failures that look transient
// (network errors, 5xx, 429) are retried after a short pause.
const (
	fetchAttempts = 3
	fetchDelay    = 700 * time.Millisecond
)

// Timeouts for one HTTP request: metadata files are small, .debs can be
// tens of megabytes.
const (
	metaTimeout = 2 * time.Minute
	blobTimeout = 10 * time.Minute
)

// newHTTPClient is the default client: bounded connect and header waits.
func newHTTPClient() *http.Client { return closure.NewHTTPClient() }

type fetcher struct {
	client *http.Client
	base   string
	// stall is the longest wait for a byte (StallTimeout when 0).
	stall time.Duration
}

// newFetcher is a fetcher of base whose stall deadline comes from getenv
// (STRATA_DEBIAN_STALL_TIMEOUT, else StallTimeout).
func newFetcher(client *http.Client, base string, getenv func(string) string) (*fetcher, error) {
	d, err := stallTimeout(getenv)
	if err != nil {
		return nil, err
	}
	return &fetcher{client: client, base: base, stall: d}, nil
}

// stallError is a transfer that received no byte for the stall deadline.
type stallError struct {
	url  string
	wait time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("GET %s: no byte received for %v (the mirror stalled; the deadline is StallTimeout, set %s to a longer Go duration such as 5m on a slow link)", e.url, e.wait, StallTimeoutEnv)
}

// errStalled is the cause a stalled transfer's context is cancelled with.
var errStalled = errors.New("transfer stalled")

// trickleError is a transfer that kept receiving bytes, but fewer than
// MinTransferBytes per StallTimeout: a server holding the build with a
// byte now and then. It is not retried (the next attempt would trickle
// too).
type trickleError struct {
	url    string
	got    int64
	window time.Duration
}

func (e *trickleError) Error() string {
	return fmt.Sprintf("GET %s: only %d bytes received in %v (the mirror trickles below MinTransferBytes, %d bytes per StallTimeout; set debian.mirror to another mirror, or %s to a longer Go duration on a very slow link)", e.url, e.got, e.window, MinTransferBytes, StallTimeoutEnv)
}

// errTrickled is the cause a trickling transfer's context is cancelled
// with.
var errTrickled = errors.New("transfer trickled")

// deadlineError is an attempt that ran to its whole-transfer deadline
// while receiving bytes; it is not retried.
type deadlineError struct {
	url  string
	wait time.Duration
}

func (e *deadlineError) Error() string {
	return fmt.Sprintf("GET %s: not received whole in %v, the deadline of one transfer (the mirror is too slow; set debian.mirror to another mirror)", e.url, e.wait)
}

// statusError is a non-200 answer.
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.url, e.code, http.StatusText(e.code))
}

// transient reports whether a failed attempt is worth another one: a
// retryable status or network failure; never an integrity failure.
func transient(ctx context.Context, err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return httpretry.Status(se.code)
	}
	if errors.As(err, new(*trickleError)) || errors.As(err, new(*deadlineError)) || errors.Is(err, errLocal) {
		return false
	}
	var stall *stallError
	if errors.As(err, &stall) || errors.Is(err, errCutShort) {
		return ctx.Err() == nil
	}
	return !errors.Is(err, errIntegrity) && httpretry.Retryable(ctx, err)
}

// errLocal marks a download that failed on this machine (the cache could
// not store it); it is not retried.
var errLocal = errors.New("the local cache could not store it")

// errIntegrity marks content that arrived but failed its check; it is not
// retried.
var errIntegrity = errors.New("integrity check failed")

// do calls consume with the body of GET base/path, retrying transient
// failures. consume must be safe to call again after a failed attempt.
func (f *fetcher) do(ctx context.Context, path string, timeout time.Duration, consume func(io.Reader) error) error {
	url := f.base + "/" + path
	policy := httpretry.Policy{Attempts: fetchAttempts, Delay: fetchDelay}
	n, err := policy.Do(ctx, func(ctx context.Context) error {
		return f.once(ctx, url, timeout, consume)
	}, func(err error) bool { return transient(ctx, err) })
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("GET %s: %w", url, ctx.Err())
	case n == fetchAttempts && transient(ctx, err):
		return fmt.Errorf("%w (gave up after %d attempts)", err, fetchAttempts)
	}
	return err
}

// once makes one attempt. A watchdog cancels it when no byte arrives for
// the stall deadline (from sending the request on), so a server that
// trickles and stops fails in StallTimeout, not in the whole timeout; and
// a meter cancels it when fewer than 2*MinTransferBytes arrive in a window
// of two stall deadlines (from the answer's headers on), so a server that
// sends a byte now and then fails too. The window is two deadlines long so
// that a server which stops is told by the watchdog (and retried), not
// taken for one that trickles.
func (f *fetcher) once(parent context.Context, url string, timeout time.Duration, consume func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	stall := f.stall
	if stall <= 0 {
		stall = StallTimeout
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	dog := time.AfterFunc(stall, func() { stop(errStalled) })
	defer dog.Stop()
	window := 2 * stall
	var inWindow, trickled atomic.Int64
	failed := func(err error) error {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errStalled):
			return &stallError{url: url, wait: stall}
		case errors.Is(cause, errTrickled):
			return &trickleError{url: url, got: trickled.Load(), window: window}
		case errors.Is(cause, context.DeadlineExceeded) && parent.Err() == nil:
			return &deadlineError{url: url, wait: timeout}
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return failed(fmt.Errorf("GET %s: %w", url, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &statusError{url: url, code: resp.StatusCode}
	}
	dog.Reset(stall)
	done := make(chan struct{})
	defer close(done)
	go func() {
		meter := time.NewTicker(window)
		defer meter.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-meter.C:
				if n := inWindow.Swap(0); n < 2*MinTransferBytes {
					trickled.Store(n)
					stop(errTrickled)
					return
				}
			}
		}
	}()
	body := &progressReader{r: resp.Body, dog: dog, wait: stall, n: &inWindow}
	if err := consume(body); err != nil {
		return failed(fmt.Errorf("GET %s: %w", url, err))
	}
	return nil
}

// progressReader pushes the stall watchdog back on every byte read and
// counts the bytes for the meter.
type progressReader struct {
	r    io.Reader
	dog  *time.Timer
	wait time.Duration
	n    *atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.dog.Reset(p.wait)
		p.n.Add(int64(n))
	}
	return n, err
}

// get returns the whole body of base/path, refusing (finally, without
// another attempt) a body longer than limit; limitName names the limit in
// that error. With size >= 0, the signed size, limit is size and a body
// that ends short of it is a dropped connection (retried), not a file
// that fails its check.
func (f *fetcher) get(ctx context.Context, path string, limit, size int64, limitName string) ([]byte, error) {
	if size >= 0 {
		limit = size
	}
	var out []byte
	err := f.do(ctx, path, metaTimeout, func(r io.Reader) error {
		var buf bytes.Buffer
		if size >= 0 {
			buf.Grow(int(min(size, 256<<20))) // one allocation for common sizes
		}
		n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
		if err != nil {
			return fmt.Errorf("%w after %d bytes: %w", errCutShort, n, err)
		}
		if n > limit {
			return fmt.Errorf("%w: more than %s (%s); refusing it before any check", errIntegrity, mib(limit), limitName)
		}
		if size >= 0 && n < size {
			return fmt.Errorf("%w after %d of %d bytes: %w", errCutShort, n, size, io.ErrUnexpectedEOF)
		}
		out = buf.Bytes()
		return nil
	})
	return out, err
}

// url is base/path, for messages.
func (f *fetcher) url(path string) string { return f.base + "/" + path }
