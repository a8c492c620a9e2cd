package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxRetryDelay caps the exponential backoff between two attempts.
const maxRetryDelay = 4 * time.Second

// retryTransport retries every single request that fails with a dropped
// connection or a retryable status (5xx, 408, 429), rewinding its body with
// GetBody, with exponential backoff. Retrying each request (rather than
// a whole blob upload, as go-containerregistry does) keeps a push through
// a flaky network from starting over on every fault. When the attempts are
// used up it returns an *exhaustedError, which no outer layer retries
// again, so the total time stays bounded.
type retryTransport struct {
	inner    http.RoundTripper
	attempts int
	delay    time.Duration
}

// exhaustedError is the last failure of a request retried to the limit.
type exhaustedError struct {
	Method, URL string
	Host        string
	Attempts    int
	// Status is the last HTTP status (0 when the connection failed).
	Status int
	// Detail is the last error or the start of the last response body.
	Detail string
	Err    error
}

func (e *exhaustedError) Error() string {
	what := e.Detail
	if e.Status != 0 {
		what = fmt.Sprintf("HTTP %d %s", e.Status, strings.TrimSpace(e.Detail))
	}
	return fmt.Sprintf("%s %s: %s (gave up after %d attempts)", e.Method, e.URL, what, e.Attempts)
}

func (e *exhaustedError) Unwrap() error { return e.Err }

func isRetryStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryable reports whether an error is worth another attempt: temporary
// network errors, refused or dropped connections and retryable HTTP
// statuses.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Temporary()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	// net/http reports some dropped connections only as text.
	msg := err.Error()
	for _, s := range []string{"server closed idle connection", "connection reset by peer", "broken pipe", "use of closed network connection", "unexpected EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// outerRetryable is the predicate given to go-containerregistry: it does
// not retry what this transport already retried to the limit.
func outerRetryable(err error) bool {
	var ex *exhaustedError
	if errors.As(err, &ex) {
		return false
	}
	return retryable(err)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	attempts := t.attempts
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		attempts = 1 // the body cannot be sent twice
	}
	if attempts < 1 {
		attempts = 1
	}
	delay := t.delay
	for i := 1; ; i++ {
		r := req
		if i > 1 {
			r = req.Clone(req.Context())
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		resp, err := t.inner.RoundTrip(r)
		again := false
		if err != nil {
			again = retryable(err)
		} else {
			again = isRetryStatus(resp.StatusCode)
		}
		if !again || i >= attempts {
			if !again || attempts == 1 {
				return resp, err
			}
			ex := &exhaustedError{Method: req.Method, URL: req.URL.Redacted(), Host: req.URL.Host, Attempts: i, Err: err}
			if err != nil {
				ex.Detail = err.Error()
			} else {
				ex.Status = resp.StatusCode
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				ex.Detail = string(b)
			}
			return nil, ex
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(delay)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		delay = min(delay*2, maxRetryDelay)
	}
}
