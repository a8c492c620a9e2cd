package registry

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stratabuild/strata/internal/httpretry"
)

// Requests are retried one by one by an httpretry.Transport (rather than
// a whole blob upload, as go-containerregistry does), so a push through a
// flaky network does not start over on every fault.

// retryable reports whether an error is worth another attempt: what
// httpretry counts as transient, and go-containerregistry's temporary
// errors.
func retryable(err error) bool {
	// Without the caller's context a deadline cannot be told apart from
	// one attempt's timeout, so it is not retried here.
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Temporary()
	}
	return httpretry.Retryable(context.Background(), err)
}

// outerRetryable is the predicate given to go-containerregistry: it does
// not retry what the transport already retried to the limit.
func outerRetryable(err error) bool {
	var ex *httpretry.ExhaustedError
	if errors.As(err, &ex) {
		return false
	}
	return retryable(err)
}
