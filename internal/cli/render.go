package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stratabuild/strata/events"
)

// maxTaskLines bounds the progress block on a terminal.
const maxTaskLines = 8

// renderer draws events. On a terminal it keeps one line per running
// task (a download with bytes, rate and ETA; a stage's counter; a build
// step's last log line), redrawn in place, with info, notices and
// warnings printed above it, and a summary line at the end. Elsewhere it
// prints only notices and warnings, as plain lines.
type renderer struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	now   func() time.Time
	start time.Time
	tasks map[string]*task
	order []string // tasks in the order they started
	drawn int      // lines of the block on screen

	// totals for the summary
	fetched      int
	fetchedBytes int64
	layers       int
	steps        int
}

type task struct {
	ev    events.Event
	start time.Time
}

func newRenderer(w io.Writer, tty bool, now func() time.Time) *renderer {
	return &renderer{w: w, tty: tty, now: now, start: now(), tasks: map[string]*task{}}
}

func (r *renderer) handle(e events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case events.Progress:
		r.progress(e)
		return
	case events.Info:
		if !r.tty {
			return
		}
	}
	r.clear()
	fmt.Fprintln(r.w, e.Text())
	r.draw()
}

func (r *renderer) progress(e events.Event) {
	id := e.Task
	if id == "" {
		id = strings.TrimSpace(e.Stage + " " + e.Scope)
	}
	done := e.End || (e.Total > 0 && e.Done >= e.Total)
	if done {
		switch e.Stage {
		case events.StageFetch:
			r.fetched++
			r.fetchedBytes += e.TotalBytes
		case events.StageLayer:
			r.layers += e.Total
		case "build":
			r.steps++
		}
	}
	if !r.tty {
		return
	}
	t := r.tasks[id]
	switch {
	case done:
		if t != nil {
			delete(r.tasks, id)
			for i, o := range r.order {
				if o == id {
					r.order = append(r.order[:i], r.order[i+1:]...)
					break
				}
			}
		}
	case t == nil:
		r.tasks[id] = &task{ev: e, start: r.now()}
		r.order = append(r.order, id)
	default:
		if e.Subject == "" {
			e.Subject = t.ev.Subject
		}
		t.ev = e
	}
	r.clear()
	r.draw()
}

// clear removes the drawn block (the cursor goes back to its first line).
func (r *renderer) clear() {
	if !r.tty || r.drawn == 0 {
		return
	}
	fmt.Fprintf(r.w, "\033[%dA", r.drawn)
	for i := 0; i < r.drawn; i++ {
		fmt.Fprint(r.w, "\r\033[K\n")
	}
	fmt.Fprintf(r.w, "\033[%dA", r.drawn)
	r.drawn = 0
}

func (r *renderer) draw() {
	if !r.tty {
		return
	}
	ids := r.order
	extra := 0
	if len(ids) > maxTaskLines {
		extra = len(ids) - (maxTaskLines - 1)
		ids = ids[:maxTaskLines-1]
	}
	for _, id := range ids {
		fmt.Fprintf(r.w, "\r\033[K%s\n", r.line(r.tasks[id]))
		r.drawn++
	}
	if extra > 0 {
		fmt.Fprintf(r.w, "\r\033[K  … and %d more\n", extra)
		r.drawn++
	}
}

// line renders one task: "fetch  libc6 2.36-9   [=====>     ] 1.2/3.4 MB  2.1 MB/s  ETA 1s".
func (r *renderer) line(t *task) string {
	e := t.ev
	label := e.Stage
	subject := e.Subject
	switch {
	case e.TotalBytes > 0:
		frac := float64(e.Bytes) / float64(e.TotalBytes)
		frac = min(max(frac, 0), 1)
		el := r.now().Sub(t.start).Seconds()
		rate, eta := 0.0, ""
		if el > 0 {
			rate = float64(e.Bytes) / el
		}
		if rate > 0 {
			eta = fmt.Sprintf("  ETA %s", (time.Duration(float64(e.TotalBytes-e.Bytes)/rate) * time.Second).Round(time.Second))
		}
		return fmt.Sprintf("%-6s %-32.32s %s %.1f/%.1f MB  %.1f MB/s%s", label, subject, bar(frac, 20), mb(e.Bytes), mb(e.TotalBytes), rate/1e6, eta)
	case e.Total > 0:
		return fmt.Sprintf("%-6s %-32.32s %s %d/%d %s", label, e.Scope, bar(float64(e.Done)/float64(e.Total), 20), e.Done, e.Total, subject)
	}
	return fmt.Sprintf("%-6s %-16.16s %s", label, e.Scope, subject)
}

func bar(frac float64, width int) string {
	n := int(frac * float64(width))
	if n >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", width-n-1) + "]"
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// summary is the line printed at the end of a build on a terminal.
func (r *renderer) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	if r.fetched > 0 {
		parts = append(parts, fmt.Sprintf("downloaded %d packages (%.1f MB)", r.fetched, mb(r.fetchedBytes)))
	}
	if r.steps > 0 {
		parts = append(parts, fmt.Sprintf("ran %d build steps", r.steps))
	}
	if r.layers > 0 {
		parts = append(parts, fmt.Sprintf("%d layers ready", r.layers))
	}
	took := r.now().Sub(r.start).Round(100 * time.Millisecond)
	if len(parts) == 0 {
		return fmt.Sprintf("done in %s", took)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" in %s", took)
}

// finish clears the block and prints the summary (terminal only).
func (r *renderer) finish() {
	if r == nil || !r.tty {
		return
	}
	line := r.summary()
	r.mu.Lock()
	r.clear()
	fmt.Fprintln(r.w, line)
	r.mu.Unlock()
}
