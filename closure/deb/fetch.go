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
)

// fetchAttempts bounds the tries per URL; failures that look transient
// (network errors, 5xx, 429) are retried after a short pause.
const fetchAttempts = 3

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

func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusRequestTimeout
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, errIntegrity)
}

// errIntegrity marks content that arrived but failed its check; it is not
// retried.
var errIntegrity = errors.New("integrity check failed")

// do calls consume with the body of GET base/path, retrying transient
// failures. consume must be safe to call again after a failed attempt.
func (f *fetcher) do(ctx context.Context, path string, timeout time.Duration, consume func(io.Reader) error) error {
	url := f.base + "/" + path
	var err error
	for attempt := 1; attempt <= fetchAttempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("GET %s: %w", url, ctx.Err())
			case <-time.After(time.Duration(attempt-1) * 700 * time.Millisecond):
			}
		}
		err = f.once(ctx, url, timeout, consume)
		if err == nil || !transient(err) {
			return err
		}
	}
	return fmt.Errorf("%w (gave up after %d attempts)", err, fetchAttempts)
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
