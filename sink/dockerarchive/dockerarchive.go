package dockerarchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/internal/atomicfile"
	"github.com/stratabuild/strata/sink"
)

// Sink writes a docker-archive to Path, or to W when Path is "-".
type Sink struct {
	Path string
	// W is where "-" writes; os.Stdout when nil.
	W io.Writer
}

var _ sink.Streamer = (*Sink)(nil)

// New returns a sink for path ("-" for standard output).
func New(path string) *Sink { return &Sink{Path: path} }

func (s *Sink) String() string {
	if s.Path == "-" {
		return "docker-archive:<stdout>"
	}
	return "docker-archive:" + s.Path
}

// Write implements sink.Sink: Begin, then Commit.
func (s *Sink) Write(ctx context.Context, tagName string, a image.Artifact) (sink.Result, error) {
	st, err := s.Begin(ctx, tagName)
	if err != nil {
		return sink.Result{}, err
	}
	res, err := st.Commit(ctx, a)
	if err != nil {
		st.Abort()
	}
	return res, err
}

// Begin implements sink.Streamer. Standard output gets each layer as soon
// as it and the layers before it are ready; a build that fails ends it
// with a truncated tar (docker load fails). A file is written as a temp
// file beside Path and renamed over it on Commit, so a failed build
// leaves Path as it was.
func (s *Sink) Begin(ctx context.Context, tagName string) (sink.Stream, error) {
	if _, err := name.NewTag(tagName, name.WeakValidation); err != nil {
		return nil, fmt.Errorf("tag %q: %w", tagName, err)
	}
	st := &stream{s: s, tag: tagName}
	if s.Path == "-" {
		w := s.W
		if w == nil {
			w = os.Stdout
		}
		st.arch = NewArchive(w)
		return st, nil
	}
	// The temp name carries the pid (.BASE.tmp-PID-RANDOM, as atomicfile
	// names its temps), so a killed writer's leftover goes on the next run.
	prefix := "." + filepath.Base(s.Path) + "."
	atomicfile.RemoveStale(filepath.Dir(s.Path), prefix, atomicfile.StaleOptions{})
	f, err := os.CreateTemp(filepath.Dir(s.Path), atomicfile.TempPattern(prefix))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", s.Path, err)
	}
	st.tmp = f
	st.arch = NewArchive(f)
	return st, nil
}

type stream struct {
	s    *Sink
	tag  string
	arch *Archive
	tmp  *os.File // the temp file of a file output

	mu   sync.Mutex
	done bool
}

func (st *stream) PutLayer(_ context.Context, i int, l v1.Layer) error {
	if err := st.arch.Put(i, l); err != nil {
		return fmt.Errorf("writing %s: %w", st.s, err)
	}
	return nil
}

func (st *stream) Commit(_ context.Context, a image.Artifact) (sink.Result, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return sink.Result{}, errors.New("docker-archive stream already committed or aborted")
	}
	st.done = true
	res, err := st.commit(a)
	if err != nil {
		st.fail()
	}
	return res, err
}

func (st *stream) commit(a image.Artifact) (sink.Result, error) {
	img, err := sink.SingleImage(a)
	if err != nil {
		return sink.Result{}, err
	}
	res, err := sink.Describe(a, sink.Result{Sink: st.s.String(), Ref: st.s.Path})
	if err != nil {
		return res, err
	}
	if err := st.arch.Finish(st.tag, img); err != nil {
		return res, fmt.Errorf("writing %s: %w", st.s, err)
	}
	if st.tmp == nil {
		return res, nil
	}
	f := st.tmp
	err = f.Chmod(0o644)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("writing %s: %w", st.s.Path, err)
	}
	if err := atomicfile.Rename(f.Name(), st.s.Path); err != nil {
		return res, err
	}
	st.tmp = nil
	return res, nil
}

// fail drops the temp file, or breaks the stream on standard output.
func (st *stream) fail() {
	if st.tmp != nil {
		st.arch.Stop()
		st.tmp.Close()
		os.Remove(st.tmp.Name())
		st.tmp = nil
		return
	}
	st.arch.Fail()
}

func (st *stream) Abort() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return
	}
	st.done = true
	st.fail()
}
