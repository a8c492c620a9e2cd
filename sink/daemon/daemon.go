package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	gcrdaemon "github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/client"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/sink"
	"github.com/stratabuild/strata/sink/dockerarchive"
)

// Option configures the sink.
type Option func(*Sink)

// WithHost talks to the engine at host ("unix:///run/docker.sock",
// "tcp://127.0.0.1:2375") instead of $DOCKER_HOST or the default socket.
func WithHost(host string) Option { return func(s *Sink) { s.host = host } }

// Sink loads a single-platform image into the Docker Engine, tagged
// Target.Tag.
type Sink struct {
	host string
}

var _ sink.Sink = (*Sink)(nil)

// New returns a Docker Engine sink.
func New(opts ...Option) *Sink {
	s := &Sink{}
	for _, o := range opts {
		o(s)
	}
	return s
}

// String implements sink.Sink.
func (s *Sink) String() string {
	if s.host != "" {
		return "docker-daemon:" + s.host
	}
	return "docker-daemon"
}

// Write implements sink.Sink. An index is sink.ErrMultiPlatform.
func (s *Sink) Write(ctx context.Context, tagName string, a image.Artifact) (sink.Result, error) {
	if a == nil {
		return sink.Result{}, errors.New("loading into Docker: no image to load")
	}
	img, err := sink.SingleImage(a)
	if err != nil {
		return sink.Result{}, err
	}
	tag, err := name.NewTag(tagName)
	if err != nil {
		return sink.Result{}, fmt.Errorf("loading into Docker: tag %q: %w (write it as NAME[:TAG])", tagName, err)
	}
	res, err := sink.Describe(a, sink.Result{Sink: s.String(), Ref: "docker:" + tag.String()})
	if err != nil {
		return res, err
	}
	cli, err := s.client(ctx)
	if err != nil {
		return res, err
	}
	defer cli.Close()
	resp, err := gcrdaemon.Write(tag, img, gcrdaemon.WithClient(cli), gcrdaemon.WithContext(ctx))
	if err != nil {
		return res, fmt.Errorf("loading %s into the Docker Engine at %s: %w", tagName, cli.DaemonHost(), err)
	}
	if err := loadError(resp); err != nil {
		return res, fmt.Errorf("loading %s into the Docker Engine at %s: %w", tagName, cli.DaemonHost(), err)
	}
	return res, nil
}

// client connects and negotiates the API version, with a clear error when
// no engine answers.
func (s *Sink) client(ctx context.Context) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if s.host != "" {
		opts = append(opts, client.WithHost(s.host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker Engine: %w (check DOCKER_HOST)", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		host := cli.DaemonHost()
		cli.Close()
		return nil, fmt.Errorf("no Docker Engine answers at %s: start it or set DOCKER_HOST: %w", host, err)
	}
	return cli, nil
}

// loadError finds an error in the engine's JSON message stream answering
// an image load (the HTTP status is 200 even when the load failed).
func loadError(resp string) error {
	sc := bufio.NewScanner(strings.NewReader(resp))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
	return nil
}

var _ sink.Streamer = (*Sink)(nil)

// Begin implements sink.Streamer. The load starts with the first layer
// this process built (a cold build): from then on each layer goes to the
// engine as soon as it and the layers before it are ready, as a
// docker-archive through a pipe; a failed build cuts the upload, so the
// engine sees a truncated archive and loads nothing. A build whose layers
// all came from the cache sends nothing until Commit, which loads the
// image as Write does (nothing at all when the engine has it already).
func (s *Sink) Begin(ctx context.Context, tagName string) (sink.Stream, error) {
	if _, err := name.NewTag(tagName); err != nil {
		return nil, fmt.Errorf("loading into Docker: tag %q: %w (write it as NAME[:TAG])", tagName, err)
	}
	return &stream{s: s, ctx: ctx, tag: tagName, early: map[int]v1.Layer{}}, nil
}

type stream struct {
	s   *Sink
	ctx context.Context
	tag string

	mu    sync.Mutex
	early map[int]v1.Layer // layers put before the load started
	arch  *dockerarchive.Archive
	pw    *io.PipeWriter
	cli   *client.Client
	res   chan loadResult
	done  bool
}

type loadResult struct {
	resp string
	err  error
}

// built reports whether l was made by this build (a cache miss).
func built(l v1.Layer) bool {
	b, ok := l.(interface{ Built() bool })
	return ok && b.Built()
}

func (st *stream) PutLayer(ctx context.Context, i int, l v1.Layer) error {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return errors.New("loading into Docker: stream already committed or aborted")
	}
	if st.arch == nil {
		if !built(l) {
			st.early[i] = l
			st.mu.Unlock()
			return nil
		}
		if err := st.start(); err != nil {
			st.mu.Unlock()
			return err
		}
	}
	arch, early := st.arch, st.early
	st.early = map[int]v1.Layer{}
	st.mu.Unlock()
	for j, e := range early {
		if err := arch.Put(j, e); err != nil {
			return st.failed(err)
		}
	}
	if err := arch.Put(i, l); err != nil {
		return st.failed(err)
	}
	return nil
}

// start connects and begins the load request; called with mu held.
func (st *stream) start() error {
	cli, err := st.s.client(st.ctx)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	st.cli, st.pw, st.arch = cli, pw, dockerarchive.NewArchive(pw)
	st.res = make(chan loadResult, 1)
	go func() {
		resp, err := cli.ImageLoad(st.ctx, pr, client.ImageLoadWithQuiet(false))
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp)
			resp.Close()
		}
		// Writers blocked on a load that ended stop here.
		pr.CloseWithError(errors.New("the Docker Engine stopped reading the image"))
		st.res <- loadResult{string(body), err}
	}()
	return nil
}

// failed turns a write error into the engine's own answer when it has one.
func (st *stream) failed(err error) error {
	return fmt.Errorf("loading %s into the Docker Engine: %w", st.tag, err)
}

func (st *stream) Commit(ctx context.Context, a image.Artifact) (sink.Result, error) {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return sink.Result{}, errors.New("loading into Docker: stream already committed or aborted")
	}
	st.done = true
	arch := st.arch
	st.mu.Unlock()
	if arch == nil {
		return st.s.Write(ctx, st.tag, a)
	}
	defer st.cli.Close()
	img, err := sink.SingleImage(a)
	if err == nil {
		err = arch.Finish(st.tag, img)
	}
	if err != nil {
		st.pw.CloseWithError(err)
		<-st.res
		return sink.Result{}, st.failed(err)
	}
	st.pw.Close()
	r := <-st.res
	if r.err == nil {
		r.err = loadError(r.resp)
	}
	if r.err != nil {
		return sink.Result{}, fmt.Errorf("loading %s into the Docker Engine at %s: %w", st.tag, st.cli.DaemonHost(), r.err)
	}
	return sink.Describe(a, sink.Result{Sink: st.s.String(), Ref: "docker:" + st.tag})
}

func (st *stream) Abort() {
	st.mu.Lock()
	if st.done {
		st.mu.Unlock()
		return
	}
	st.done = true
	arch := st.arch
	st.mu.Unlock()
	if arch == nil {
		return
	}
	st.pw.CloseWithError(errors.New("the build failed"))
	arch.Stop()
	<-st.res
	st.cli.Close()
}
