package httpretry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// DefaultMaxDelay caps the pause between two attempts when Policy.MaxDelay
// is 0.
const DefaultMaxDelay = 4 * time.Second

// Policy says how often and how patiently to retry.
type Policy struct {
	// Attempts counts every try, the first included; below 1 means 1.
	Attempts int
	// Delay is the pause before the second try; it doubles before each
	// further try.
	Delay time.Duration
	// MaxDelay caps a pause; 0 means DefaultMaxDelay.
	MaxDelay time.Duration
}

func (p Policy) attempts() int { return max(p.Attempts, 1) }

// Pause is the wait after the n-th failed attempt (n from 1).
func (p Policy) Pause(n int) time.Duration {
	limit := p.MaxDelay
	if limit <= 0 {
		limit = DefaultMaxDelay
	}
	d := p.Delay
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Wait sleeps d, or returns ctx's error as soon as ctx is done.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Do calls op until it succeeds, fails with an error retry rejects, or the
// attempts are used up; it returns op's last error and how many attempts
// were made. A cancelled ctx stops it with ctx's error.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error, retry func(error) bool) (int, error) {
	for n := 1; ; n++ {
		err := op(ctx)
		if err == nil || n >= p.attempts() || ctx.Err() != nil || !retry(err) {
			return n, err
		}
		if werr := Wait(ctx, p.Pause(n)); werr != nil {
			return n, werr
		}
	}
}

// Status reports whether an HTTP status is worth another attempt.
func Status(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported:
		return false
	}
	return code >= 500 && code <= 599
}

// Retryable reports whether err, from one attempt made under ctx, is a
// transient network failure: a dropped, reset or refused connection, or a
// timeout. Nothing is retryable once ctx is done; a deadline of the attempt
// alone (ctx still live) is.
func Retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
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
