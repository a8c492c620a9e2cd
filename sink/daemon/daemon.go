package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	gcrdaemon "github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/client"
	"github.com/stratabuild/strata/image"
	"github.com/stratabuild/strata/sink"
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
