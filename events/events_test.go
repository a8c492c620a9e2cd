package events

import (
	"sync"
	"testing"
)

func TestNilLogDiscards(t *testing.T) {
	var l *Log
	l.Noticef("x %d", 1)
	l.With("debian").Warnf("y")
	if New(nil) != nil {
		t.Fatal("New(nil) should be the discarding nil Log")
	}
}

func TestWithNamesTheSourceAndKeepsKinds(t *testing.T) {
	var r Recorder
	l := New(r.Handle)
	l.With("debian").Noticef("dropped dependency %s", "a -> b")
	l.With("nix").Warnf("careful")
	l.Infof("resolving")
	l.Emit(Event{Kind: Progress, Stage: StageLayer, Scope: "linux/amd64", Done: 3, Total: 12, Subject: "libc6"})
	want := []struct {
		k    Kind
		text string
	}{
		{Notice, "debian: notice: dropped dependency a -> b"},
		{Warning, "nix: warning: careful"},
		{Info, "resolving"},
		{Progress, "[linux/amd64 3/12] libc6"},
	}
	if len(r.Events) != len(want) {
		t.Fatalf("got %d events, want %d", len(r.Events), len(want))
	}
	for i, w := range want {
		if r.Events[i].Kind != w.k || r.Events[i].Text() != w.text {
			t.Errorf("event %d = %v %q, want %v %q", i, r.Events[i].Kind, r.Events[i].Text(), w.k, w.text)
		}
	}
	if n := len(r.Of(Notice)); n != 1 {
		t.Errorf("Of(Notice) = %d events", n)
	}
	fetch := Event{Kind: Progress, Stage: StageFetch, Done: 1, Total: 2, Subject: "libc6"}
	if got := fetch.Text(); got != "[fetch 1/2] libc6" {
		t.Errorf("fetch progress = %q", got)
	}
}

func TestLogSerialisesHandlers(t *testing.T) {
	n := 0
	l := New(func(Event) { n++ }) // a data race here fails under -race
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); l.With("x").Infof("hi") }()
	}
	wg.Wait()
	if n != 50 {
		t.Fatalf("handler saw %d events, want 50", n)
	}
}
