package deb

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// run calls every index once, never more than jobs at a time, and the
// results stay in index order whatever order the calls finish in.
func TestRunBoundsAndOrders(t *testing.T) {
	var live, peak atomic.Int32
	out := make([]int, 20)
	run(context.Background(), len(out), 3, func(i int) {
		n := live.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Duration(20-i) * time.Millisecond / 4)
		out[i] = i * i
		live.Add(-1)
	})
	if peak.Load() > 3 {
		t.Errorf("%d calls at once, want at most 3", peak.Load())
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
}
