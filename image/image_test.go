package image

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/stratabuild/strata/spec"
)

func TestMergeConfig(t *testing.T) {
	base := v1.Config{
		Env:          []string{"PATH=/usr/bin", "KEEP=1", "OVER=base"},
		Entrypoint:   []string{"/base"},
		Cmd:          []string{"--base"},
		ExposedPorts: map[string]struct{}{"22/tcp": {}},
		Labels:       map[string]string{"a": "base", "b": "base"},
		User:         "root",
	}
	got := MergeConfig(base, spec.Config{
		Env:          map[string]string{"OVER": "spec", "NEW": "x"},
		Entrypoint:   []string{"/app"},
		ExposedPorts: []string{"80/tcp"},
		Labels:       map[string]string{"b": "spec"},
	})
	if strings.Join(got.Env, ",") != "PATH=/usr/bin,KEEP=1,OVER=spec,NEW=x" {
		t.Errorf("env %v", got.Env)
	}
	if got.Entrypoint[0] != "/app" || got.Cmd != nil {
		t.Errorf("entrypoint %v cmd %v: a new entrypoint clears the base's cmd", got.Entrypoint, got.Cmd)
	}
	if _, ok := got.ExposedPorts["22/tcp"]; !ok || len(got.ExposedPorts) != 2 {
		t.Errorf("ports %v", got.ExposedPorts)
	}
	if got.Labels["a"] != "base" || got.Labels["b"] != "spec" || got.User != "root" {
		t.Errorf("labels/user %v %q", got.Labels, got.User)
	}
	if base.Labels["b"] != "base" || len(base.ExposedPorts) != 1 {
		t.Error("base config mutated")
	}
	// Without spec values the base stays.
	same := MergeConfig(base, spec.Config{})
	if same.Entrypoint[0] != "/base" || same.Cmd[0] != "--base" {
		t.Errorf("base lost: %+v", same)
	}
}

// Defaults fill what neither the base nor the spec sets; the spec wins.
func TestDefaultEnv(t *testing.T) {
	defaults := []string{"PATH=" + DefaultPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cases := []struct {
		name string
		base []string
		spec map[string]string
		want string
	}{
		{"no base", nil, nil, "PATH=" + DefaultPath + ",SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		{"spec wins", nil, map[string]string{"PATH": "/app/bin", "A": "1"}, "PATH=/app/bin,SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt,A=1"},
		{"base wins", []string{"PATH=/opt/bin"}, nil, "PATH=/opt/bin,SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := append([]string(nil), c.base...)
			got := MergeConfig(v1.Config{Env: withDefaults(base, defaults)}, spec.Config{Env: c.spec})
			if s := strings.Join(got.Env, ","); s != c.want {
				t.Errorf("env = %s, want %s", s, c.want)
			}
			if strings.Join(base, ",") != strings.Join(c.base, ",") {
				t.Errorf("base env changed: %v", base)
			}
		})
	}
}
