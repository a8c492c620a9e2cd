package httpretry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Transport retries every single request that fails with a retryable
// error or status, rewinding its body with GetBody (a body that cannot be
// rewound is sent once). When the attempts are used up it returns an
// *ExhaustedError, so an outer layer can tell not to retry again and the
// total time stays bounded.
type Transport struct {
	Inner  http.RoundTripper
	Policy Policy
}

// ExhaustedError is the last failure of a request retried to the limit.
type ExhaustedError struct {
	Method, URL string
	Host        string
	Attempts    int
	// Status is the last HTTP status (0 when the connection failed).
	Status int
	// Detail is the last error or the start of the last response body.
	Detail string
	Err    error
}

func (e *ExhaustedError) Error() string {
	what := e.Detail
	if e.Status != 0 {
		what = fmt.Sprintf("HTTP %d %s", e.Status, strings.TrimSpace(e.Detail))
	}
	return fmt.Sprintf("%s %s: %s (gave up after %d attempts)", e.Method, e.URL, what, e.Attempts)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	attempts := t.Policy.attempts()
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		attempts = 1 // the body cannot be sent twice
	}
	ctx := req.Context()
	for i := 1; ; i++ {
		r := req
		if i > 1 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		resp, err := t.Inner.RoundTrip(r)
		again := false
		if err != nil {
			again = Retryable(ctx, err)
		} else {
			again = Status(resp.StatusCode)
		}
		if !again || i >= attempts {
			if !again || attempts == 1 {
				return resp, err
			}
			ex := &ExhaustedError{Method: req.Method, URL: req.URL.Redacted(), Host: req.URL.Host, Attempts: i, Err: err}
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
		if err := Wait(ctx, t.Policy.Pause(i)); err != nil {
			return nil, err
		}
	}
}
