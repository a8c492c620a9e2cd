package cli

import (
	"context"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/build"
	"github.com/stratabuild/strata/sink"
	"github.com/stratabuild/strata/spec"
)

// streams holds the sink streams begun before a build, so that streaming
// sinks (a registry, an OCI layout) write each layer as soon as it is
// ready; a sink is matched to its stream by its String().
type streams struct {
	mu sync.Mutex
	by map[*spec.Spec]map[string]sink.Stream
}

func newStreams() *streams { return &streams{by: map[*spec.Spec]map[string]sink.Stream{}} }

// begin starts a stream for every Streamer among sinks, for spec s.
func (st *streams) begin(ctx context.Context, s *spec.Spec, tag string, sinks []sink.Sink) error {
	for _, sk := range sinks {
		str, ok := sk.(sink.Streamer)
		if !ok {
			continue
		}
		stream, err := str.Begin(ctx, tag)
		if err != nil {
			return fmt.Errorf("writing %s: %w", sk, err)
		}
		st.mu.Lock()
		if st.by[s] == nil {
			st.by[s] = map[string]sink.Stream{}
		}
		st.by[s][sk.String()] = stream
		st.mu.Unlock()
	}
	return nil
}

// onLayer is build.Options.OnLayer: the layer goes to every stream of s.
func (st *streams) onLayer(ctx context.Context, s *spec.Spec, i int, l v1.Layer) error {
	st.mu.Lock()
	ss := make([]sink.Stream, 0, len(st.by[s]))
	for _, x := range st.by[s] {
		ss = append(ss, x)
	}
	st.mu.Unlock()
	for _, x := range ss {
		if err := x.PutLayer(ctx, i, l); err != nil {
			return err
		}
	}
	return nil
}

// write writes r to every sink: a sink with a stream commits it, the
// others write the finished artifact.
func (st *streams) write(ctx context.Context, sinks sink.Multi, r *build.Result) ([]sink.Result, error) {
	out := make([]sink.Result, 0, len(sinks))
	for _, sk := range sinks {
		st.mu.Lock()
		stream := st.by[r.Spec][sk.String()]
		delete(st.by[r.Spec], sk.String())
		st.mu.Unlock()
		var res sink.Result
		var err error
		if stream != nil {
			res, err = stream.Commit(ctx, r.Artifact())
		} else {
			res, err = sk.Write(ctx, r.Tag, r.Artifact())
		}
		if err != nil {
			return out, fmt.Errorf("writing %s: %w", sk, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// abort drops every stream not committed (a failed build leaves nothing).
func (st *streams) abort() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.by {
		for _, x := range m {
			x.Abort()
		}
	}
	st.by = map[*spec.Spec]map[string]sink.Stream{}
}
