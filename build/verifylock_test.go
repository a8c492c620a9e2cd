package build

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stratabuild/strata/closure"
)

// verifier is a locker that records its lock requests and verifies a
// section by answering verify.
type verifier struct {
	*fakeSource
	locks  []closure.Request
	verify func(req closure.Request) (int, error)
}

func (v *verifier) Lock(_ context.Context, req closure.Request) (json.RawMessage, error) {
	v.locks = append(v.locks, req)
	return json.RawMessage(v.lock), nil
}

func (v *verifier) VerifyLock(_ context.Context, req closure.Request) (int, error) {
	return v.verify(req)
}

// TestLockUpdateGivesThePreviousLock: a full lock --update drops the lock
// from Locked (nothing is kept) but hands it to the source as Previous,
// which the Debian source holds a fresh Release against.
func TestLockUpdateGivesThePreviousLock(t *testing.T) {
	var calls []string
	v := &verifier{fakeSource: &fakeSource{name: "debian", lock: `{"date":"1"}`, calls: &calls}}
	s := testSpec(t, "name: app\n")
	if _, err := Lock(context.Background(), s, testOptions(t, v), ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(v.locks[0].Previous) != 0 {
		t.Errorf("the first lock got a Previous %s", v.locks[0].Previous)
	}
	v.lock = `{"date":"2"}`
	if _, err := Lock(context.Background(), s, testOptions(t, v), ResolveOptions{Update: true}); err != nil {
		t.Fatal(err)
	}
	if got := v.locks[1]; len(got.Locked) != 0 || !strings.Contains(string(got.Previous), `"date": "1"`) {
		t.Errorf("lock --update: Locked %s, Previous %s; want none and the old section", got.Locked, got.Previous)
	}
}

// TestVerifyLock: every section of a verifying source is checked, each
// failure reported, and a spec without a lock is an error naming the fix.
func TestVerifyLock(t *testing.T) {
	var calls []string
	v := &verifier{fakeSource: &fakeSource{name: "debian", lock: `{"p":1}`, calls: &calls}}
	plain := &fakeSource{name: "files", calls: &calls}
	s := testSpec(t, "name: app\nplatforms: [linux/amd64, linux/arm64]\n")
	if _, err := VerifyLock(context.Background(), s, testOptions(t, v, plain)); err == nil || !strings.Contains(err.Error(), "run `strata lock` first") {
		t.Fatalf("no lock: %v", err)
	}
	if _, err := Lock(context.Background(), s, testOptions(t, v, plain), ResolveOptions{}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	v.verify = func(req closure.Request) (int, error) {
		seen = append(seen, req.Platform.String()+" "+strings.Join(strings.Fields(string(req.Locked)), ""))
		if req.Platform.Arch == "arm64" {
			return 3, errors.New("backdoor 1.0 is in no signed index")
		}
		return 3, nil
	}
	done, err := VerifyLock(context.Background(), s, testOptions(t, v, plain))
	if got := strings.Join(seen, ", "); got != `linux/amd64 {"p":1}, linux/arm64 {"p":1}` {
		t.Errorf("verified %s", got)
	}
	if err == nil || !strings.Contains(err.Error(), "verifying the debian inputs for linux/arm64: backdoor 1.0 is in no signed index") {
		t.Errorf("error %v", err)
	}
	if len(done) != 1 || done[0] != (VerifiedSection{Source: "debian", Platform: "linux/amd64", Entries: 3}) {
		t.Errorf("sections %+v", done)
	}
}
