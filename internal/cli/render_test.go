package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stratabuild/strata/events"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestRendererOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := newRenderer(&buf, true, clk.now)
	log := events.New(r.handle).With("debian")
	ev := events.Event{Kind: events.Progress, Stage: events.StageFetch, Task: "fetch libc6", Subject: "libc6 2.36-9", TotalBytes: 4_000_000}
	log.Emit(ev)
	clk.t = clk.t.Add(2 * time.Second)
	ev.Bytes = 2_000_000
	log.Emit(ev)
	out := buf.String()
	for _, want := range []string{"fetch", "libc6 2.36-9", "[==========>", "2.0/4.0 MB", "1.0 MB/s", "ETA 2s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%q", want, out)
		}
	}
	// A second task gets its own line; a notice prints above the block.
	log.Emit(events.Event{Kind: events.Progress, Stage: events.StageLayer, Scope: "linux/amd64", Done: 1, Total: 3, Subject: "libc6"})
	buf.Reset()
	log.Noticef("dropped dependency x")
	if out := buf.String(); !strings.Contains(out, "debian: notice: dropped dependency x\n") || strings.Count(out, "\033[K") < 4 {
		t.Errorf("notice and redraw: %q", out)
	}
	ev.End, ev.Bytes = true, 4_000_000
	log.Emit(ev)
	log.Emit(events.Event{Kind: events.Progress, Stage: events.StageLayer, Scope: "linux/amd64", Done: 3, Total: 3, Subject: "hello"})
	buf.Reset()
	r.finish()
	if out := buf.String(); !strings.Contains(out, "downloaded 1 packages (4.0 MB), 3 layers ready in 2s") {
		t.Errorf("summary: %q", out)
	}
}

func TestRendererElsewherePrintsOnlyNoticesAndWarnings(t *testing.T) {
	var buf bytes.Buffer
	r := newRenderer(&buf, false, time.Now)
	log := events.New(r.handle)
	log.Emit(events.Event{Kind: events.Progress, Stage: events.StageFetch, Task: "fetch a", Bytes: 1, TotalBytes: 2})
	log.Infof("resolving")
	log.Warnf("careful")
	r.finish()
	if got := buf.String(); got != "warning: careful\n" {
		t.Fatalf("non-terminal output = %q", got)
	}
}
