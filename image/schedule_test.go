package image

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/closure"
	"github.com/stratabuild/strata/layer"
	"github.com/stratabuild/strata/store"
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

// Assemble with one job builds the layers largest first, and in image
// order when they stream; the image is the same either way.
func TestAssembleStreamsInImageOrder(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int64{1, 3, 2}
	groups := make([]Group, len(sizes))
	for i, sz := range sizes {
		c := closure.StaticContents{ID: fmt.Sprint("layer", i), List: []closure.Entry{{Path: fmt.Sprint("f", i), Type: closure.Regular, Mode: 0o644, Size: sz,
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(strings.Repeat("x", int(sz)))), nil
			}}}}
		groups[i] = Group{Title: fmt.Sprint(i), Nodes: []*closure.Node{{ID: fmt.Sprint(i), Size: sz, Contents: c}}}
	}
	run := func(stream bool) ([]string, v1.Hash) {
		var order []string
		opt := Options{Cache: st, Compression: layer.Gzip, Jobs: 1, Platform: closure.Platform{OS: "linux", Arch: "amd64"},
			Progress: func(_, _ int, title string) { order = append(order, title) }}
		if stream {
			opt.OnLayer = func(context.Context, int, v1.Layer) error { return nil }
		}
		img, _, err := Assemble(context.Background(), groups, opt)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return order, d
	}
	// Fresh builds each time: the order is the build order.
	order, plain := run(false)
	if !slices.Equal(order, []string{"1", "2", "0"}) {
		t.Errorf("not streaming: built %v, want largest first [1 2 0]", order)
	}
	st2, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st = st2
	order, streamed := run(true)
	if !slices.Equal(order, []string{"0", "1", "2"}) {
		t.Errorf("streaming: built %v, want image order [0 1 2]", order)
	}
	if plain != streamed {
		t.Errorf("the build order changed the image: %s vs %s", plain, streamed)
	}
}
