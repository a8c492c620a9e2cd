package image

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stratabuild/strata/closure"
)

func sizedGroups(sizes ...int64) []Group {
	gs := make([]Group, len(sizes))
	for i, sz := range sizes {
		gs[i] = Group{Title: fmt.Sprint(i), Nodes: []*closure.Node{{ID: fmt.Sprint(i), Size: sz}}}
	}
	return gs
}

// Without a stream every worker takes the largest layer left; with one,
// the in-order worker takes the layers in image order, skipping those the
// others started, and the others still take the largest.
func TestScheduleOrder(t *testing.T) {
	gs := sizedGroups(10, 50, 20, 90, 5, 70)
	drain := func(s *schedule, inOrder func(k int) bool) []int {
		var got []int
		for k := 0; ; k++ {
			i, ok := s.next(inOrder(k))
			if !ok {
				return got
			}
			got = append(got, i)
		}
	}
	if got, want := drain(newSchedule(gs, false), func(k int) bool { return k%2 == 0 }), []int{3, 5, 1, 2, 0, 4}; !slices.Equal(got, want) {
		t.Errorf("not streaming: order %v, want largest first %v", got, want)
	}
	// Two workers taking turns: the first in image order.
	if got, want := drain(newSchedule(gs, true), func(k int) bool { return k%2 == 0 }), []int{0, 3, 1, 5, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("streaming, 2 workers: order %v, want %v", got, want)
	}
	// One worker: image order.
	if got, want := drain(newSchedule(gs, true), func(int) bool { return true }), []int{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("streaming, 1 worker: order %v, want %v", got, want)
	}
}
