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
