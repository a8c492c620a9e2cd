package build

import (
	"fmt"
	"testing"
)

func TestAssignShardsBalancedAndDeterministic(t *testing.T) {
	mk := func() []*ShardLayer {
		var ls []*ShardLayer
		for i, b := range []int64{900, 100, 500, 500, 300, 300, 200, 0, 50, 1000} {
			ls = append(ls, &ShardLayer{Key: fmt.Sprintf("k%02d", i), Bytes: b})
		}
		return ls
	}
	a, b := mk(), mk()
	// Order of the input must not matter.
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	AssignShards(a, 3)
	AssignShards(b, 3)
	byKey := map[string]int{}
	load := make([]int64, 3)
	for _, l := range a {
		if l.Shard < 1 || l.Shard > 3 {
			t.Fatalf("layer %s on shard %d", l.Key, l.Shard)
		}
		byKey[l.Key] = l.Shard
		load[l.Shard-1] += l.Bytes
	}
	for _, l := range b {
		if byKey[l.Key] != l.Shard {
			t.Fatalf("layer %s: shard %d, then %d with the input reversed", l.Key, byKey[l.Key], l.Shard)
		}
	}
	// 3850 bytes in 3 shards: greedy largest-first keeps every shard
	// within the largest layer of the mean.
	for i, n := range load {
		if n < 3850/3-1000 || n > 3850/3+1000 {
			t.Fatalf("shard %d holds %d bytes: %v", i+1, n, load)
		}
	}
	if load[0] != 1300 || load[1] != 1300 || load[2] != 1250 {
		t.Fatalf("loads %v, want [1300 1300 1250]", load)
	}
}

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"1/1", "2/4", "4/4"} {
		if _, err := ParseShard(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0/4", "5/4", "1", "a/b", "1/0", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
