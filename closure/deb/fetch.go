package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// maxMetaBytes bounds an InRelease or Packages download held in memory.
const maxMetaBytes = 512 << 20

// newHTTPClient is the default client: bounded connect and header waits.
func newHTTPClient() *http.Client { return closure.NewHTTPClient() }

type fetcher struct {
	client *http.Client
	base   string
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
	return !errors.Is(err, errIntegrity) && httpretry.Retryable(ctx, err)
}

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

func (f *fetcher) once(ctx context.Context, url string, timeout time.Duration, consume func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &statusError{url: url, code: resp.StatusCode}
	}
	if err := consume(resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// get returns the whole body of base/path.
func (f *fetcher) get(ctx context.Context, path string) ([]byte, error) {
	var out []byte
	err := f.do(ctx, path, metaTimeout, func(r io.Reader) error {
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(r, maxMetaBytes+1))
		if err != nil {
			return err
		}
		if n > maxMetaBytes {
			return fmt.Errorf("%w: larger than %d bytes", errIntegrity, maxMetaBytes)
		}
		out = buf.Bytes()
		return nil
	})
	return out, err
}

// url is base/path, for messages.
func (f *fetcher) url(path string) string { return f.base + "/" + path }
