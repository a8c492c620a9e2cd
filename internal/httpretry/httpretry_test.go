package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestPauseDoublesUpToTheCap(t *testing.T) {
	p := Policy{Delay: time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := p.Pause(i + 1); got != w {
			t.Errorf("Pause(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := (Policy{Delay: time.Second, MaxDelay: 1500 * time.Millisecond}).Pause(2); got != 1500*time.Millisecond {
		t.Errorf("capped pause %v", got)
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[int]bool{200: false, 404: false, 408: true, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 505: false, 599: true} {
		if Status(code) != want {
			t.Errorf("Status(%d) = %v", code, !want)
		}
	}
}

func TestRetryable(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("GET x: %w", syscall.ECONNREFUSED), true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{io.ErrUnexpectedEOF, true},
		{fmt.Errorf("one attempt: %w", context.DeadlineExceeded), true},
		{context.Canceled, false},
		{errors.New("sha256 mismatch"), false},
		{nil, false},
	} {
		if got := Retryable(ctx, c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v", c.err, got)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if Retryable(done, syscall.ECONNREFUSED) {
		t.Error("retryable after the context ended")
	}
}

func TestDo(t *testing.T) {
	p := Policy{Attempts: 3, Delay: time.Millisecond}
	calls := 0
	n, err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return syscall.ECONNRESET
		}
		return nil
	}, func(error) bool { return true })
	if err != nil || n != 3 {
		t.Fatalf("n %d err %v", n, err)
	}
	// Used up: the last error comes back.
	n, err = p.Do(context.Background(), func(context.Context) error { return syscall.ECONNRESET }, func(error) bool { return true })
	if n != 3 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("n %d err %v", n, err)
	}
	// Not retryable: one attempt.
	n, _ = p.Do(context.Background(), func(context.Context) error { return errors.New("bad") }, func(error) bool { return false })
	if n != 1 {
		t.Fatalf("n %d for a permanent error", n)
	}
	// A cancelled context ends the pause at once.
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = Policy{Attempts: 5, Delay: time.Hour}.Do(ctx, func(context.Context) error { return syscall.ECONNRESET }, func(error) bool { return true })
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Minute {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}
