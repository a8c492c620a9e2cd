package registrytest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stratabuild/strata/internal/testutil"
)

// Option configures Start.
type Option func(*config)

type config struct {
	user, password string
}

// WithHtpasswd makes the registry require HTTP basic authentication with
// this user and password (bcrypt htpasswd file made with htpasswd(1)).
func WithHtpasswd(user, password string) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// Start runs docker-registry on 127.0.0.1 with a free port and returns its
// "127.0.0.1:PORT". It fails the test (skips outside CI) when
// docker-registry is not installed, and stops the server in t.Cleanup.
func Start(t testing.TB, opts ...Option) string {
	t.Helper()
	return StartServer(t, opts...).Host
}

// Server is a docker-registry started by StartServer.
type Server struct {
	// Host is "127.0.0.1:PORT".
	Host string
	stop func()
}

// Stop stops the registry now (a registry going away mid-build); the
// stop in t.Cleanup then does nothing.
func (s *Server) Stop() { s.stop() }

// StartServer is Start, returning the server so that a test can stop it.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	bin := testutil.RequireTool(t, "docker-registry")
	dir := t.TempDir()
	authSection := ""
	if c.user != "" {
		htpasswd := testutil.RequireTool(t, "htpasswd")
		out, err := exec.Command(htpasswd, "-Bbn", c.user, c.password).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		pwfile := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pwfile, bytes.TrimSpace(out), 0o600); err != nil {
			t.Fatal(err)
		}
		authSection = fmt.Sprintf("auth:\n  htpasswd:\n    realm: strata-test\n    path: %s\n", pwfile)
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		host, stop, err := start(t, bin, dir, attempt, authSection)
		if err == nil {
			return &Server{Host: host, stop: stop}
		}
		lastErr = err
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(t testing.TB, bin, dir string, attempt int, authSection string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	storage := filepath.Join(dir, "storage-"+strconv.Itoa(attempt))
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return "", nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, storage, host, authSection)
	cfgPath := filepath.Join(dir, "config-"+strconv.Itoa(attempt)+".yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", nil, err
	}
	logPath := filepath.Join(dir, "registry-"+strconv.Itoa(attempt)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				t.Cleanup(stop)
				return host, stop, nil
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return "", nil, fmt.Errorf("docker-registry exited at startup on %s: %s", host, b)
		case <-ctx.Done():
			stop()
			b, _ := os.ReadFile(logPath)
			return "", nil, fmt.Errorf("docker-registry did not answer on %s within 15s: %s", host, b)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
