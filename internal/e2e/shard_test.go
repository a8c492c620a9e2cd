package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratabuild/strata/registry/registrytest"
)

// writeShardFleet writes 8 files-only specs planned as a fleet: every
// image holds /opt/common, each pair of images shares a /opt/pair-N, and
// each has a private /opt/own; sizes differ so that the shards' byte
// balance matters.
func writeShardFleet(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	write := func(p string, size int, seed string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte(seed+"\n"), size/(len(seed)+1)+1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var dirs []string
	for i := range 8 {
		dir := filepath.Join(root, fmt.Sprintf("img%d", i))
		write(filepath.Join(dir, "common", "lib.txt"), 200<<10, "common")
		write(filepath.Join(dir, "pair", "data.txt"), (i/2+1)*40<<10, fmt.Sprintf("pair %d", i/2))
		write(filepath.Join(dir, "own", "app.txt"), (i+1)*10<<10, fmt.Sprintf("own %d", i))
		spec := fmt.Sprintf(`name: fleet/img%d
tag: v1
layering: {strategy: fleet}
files:
  - {src: common, dst: /opt/common}
  - {src: pair, dst: /opt/pair-%d}
  - {src: own, dst: /opt/own}
config:
  entrypoint: [/opt/own/app.txt]
`, i, i/2)
		if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

type shardOut struct {
	Shard  string `json:"shard"`
	Layers []struct {
		Key    string   `json:"key"`
		Shard  int      `json:"shard"`
		Bytes  int64    `json:"bytes"`
		Images []string `json:"images"`
		Digest string   `json:"digest"`
		Built  bool     `json:"built"`
	} `json:"layers"`
	RemoteCache struct {
		Pushed map[string]int `json:"pushed"`
		Made   map[string]int `json:"made"`
	} `json:"remoteCache"`
}

// A fleet of 8 built as 4 shards in parallel (4 processes, 4 empty caches,
// one docker-registry), then assembled on a fifth machine, gives the
// digests of a one-machine build; every layer is built by exactly one
// shard and the assembly builds none.
func TestShardedFleet(t *testing.T) {
	srv := registrytest.StartServer(t)
	repo := srv.Host + "/strata/fleet-cache"
	key, pub := keygen(t, "ci")
	dirs := writeShardFleet(t)

	one := MustRun(t, nil, append(append([]string{"build"}, dirs...), "--cache", t.TempDir(), "--out-dir", t.TempDir(), "--json")...)
	var want []struct {
		Tag    string `json:"tag"`
		Digest string `json:"digest"`
		Layers []any  `json:"layers"`
	}
	if err := json.Unmarshal([]byte(one.Stdout), &want); err != nil || len(want) != 8 {
		t.Fatalf("one-machine build: %v\n%s", err, one.Stdout)
	}

	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	var errs []*bytes.Buffer
	for i := 1; i <= 4; i++ {
		args := append(append([]string{"build"}, dirs...), "--shard", fmt.Sprintf("%d/4", i), "--cache", t.TempDir(), "--cache-to", repo, "--cache-sign-key", key, "--json")
		cmd := exec.Command(Strata(t), args...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, errs = append(cmds, cmd), append(outs, &o), append(errs, &e)
	}
	shards := make([]shardOut, 4)
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %d/4: %v\n%s", i+1, err, errs[i])
		}
		if err := json.Unmarshal(outs[i].Bytes(), &shards[i]); err != nil {
			t.Fatalf("shard %d/4 --json: %v\n%s", i+1, err, outs[i])
		}
	}

	// Every shard computed the same plan and assignment.
	builtBy := map[string]int{}
	var load [4]int64
	shared := 0
	for i, s := range shards {
		if len(s.Layers) != len(shards[0].Layers) {
			t.Fatalf("shard %d sees %d layers, shard 1 %d", i+1, len(s.Layers), len(shards[0].Layers))
		}
		for k, l := range s.Layers {
			if l.Key != shards[0].Layers[k].Key || l.Shard != shards[0].Layers[k].Shard {
				t.Fatalf("shard %d plans layer %d as %s on shard %d, shard 1 as %s on %d", i+1, k, l.Key, l.Shard, shards[0].Layers[k].Key, shards[0].Layers[k].Shard)
			}
			mine := l.Shard == i+1
			if mine != (l.Digest != "") || (!mine && l.Built) {
				t.Fatalf("shard %d: layer %s of shard %d has digest %q, built %v", i+1, l.Key, l.Shard, l.Digest, l.Built)
			}
			if l.Built {
				builtBy[l.Key]++
			}
			if i == 0 {
				load[l.Shard-1] += l.Bytes
				if len(l.Images) > 1 {
					shared++
				}
			}
		}
		if s.RemoteCache.Made["layer"] != s.RemoteCache.Pushed["layer"] {
			t.Fatalf("shard %d made %d layers and pushed %d", i+1, s.RemoteCache.Made["layer"], s.RemoteCache.Pushed["layer"])
		}
	}
	for _, l := range shards[0].Layers {
		if builtBy[l.Key] != 1 {
			t.Fatalf("layer %s (images %v) was built by %d shards", l.Key, l.Images, builtBy[l.Key])
		}
	}
	if shared == 0 {
		t.Fatalf("the fleet plan shares no layer between images: the test proves nothing")
	}
	for i, b := range load {
		if b == 0 {
			t.Fatalf("shard %d got no bytes: %v", i+1, load)
		}
	}

	// The assembly: a fresh cache, everything from the remote cache.
	outDir := t.TempDir()
	asm := MustRun(t, nil, append(append([]string{"build"}, dirs...), "--cache", t.TempDir(), "--out-dir", outDir, "--cache-from", repo, "--cache-trust", pub, "--json")...)
	var got []struct {
		Tag         string `json:"tag"`
		Digest      string `json:"digest"`
		RemoteCache struct {
			Fetched map[string]int `json:"fetched"`
			Made    map[string]int `json:"made"`
		} `json:"remoteCache"`
	}
	if err := json.Unmarshal([]byte(asm.Stdout), &got); err != nil || len(got) != 8 {
		t.Fatalf("assembly: %v\n%s", err, asm.Stdout)
	}
	for i := range want {
		if got[i].Tag != want[i].Tag || got[i].Digest != want[i].Digest {
			t.Fatalf("assembled %s %s, one machine %s %s", got[i].Tag, got[i].Digest, want[i].Tag, want[i].Digest)
		}
	}
	if m, f := got[0].RemoteCache.Made["layer"], got[0].RemoteCache.Fetched["layer"]; m != 0 || f != len(shards[0].Layers) {
		t.Fatalf("the assembly built %d layers and read %d from the remote cache (the fleet has %d):\n%s", m, f, len(shards[0].Layers), asm.Stderr)
	}
	if strings.Contains(asm.Stderr, "warning") {
		t.Fatalf("warnings in the assembly:\n%s", asm.Stderr)
	}
}

// --shard refuses image outputs and a missing --cache-to.
func TestShardRefusals(t *testing.T) {
	dirs := writeShardFleet(t)[:2]
	key, _ := keygen(t, "ci")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "1/2", "--out-dir", t.TempDir(), "--cache-to", "127.0.0.1:1/x", "--cache-sign-key", key}, "writes no image"},
		{[]string{"--shard", "1/2"}, "add --cache-to REF"},
		{[]string{"--shard", "1/2", "--cache-to", "127.0.0.1:1/x"}, "add --cache-sign-key"},
		{[]string{"--shard", "3/2", "--cache-to", "127.0.0.1:1/x", "--cache-sign-key", key}, "1 <= I <= N"},
	} {
		r := Run(t, nil, append(append([]string{"build", "--cache", t.TempDir()}, dirs...), c.args...)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("build %v: exit %d, want an error saying %q:\n%s", c.args, r.Code, c.want, r.Stderr)
		}
	}
}
