package registry

import (
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"
)

// progressLine turns remote's progress updates into one terminal line
// ("pushing REF  12.3 MB / 45.6 MB"), redrawn at most ten times a second.
// When the writer is not a terminal it writes one summary line at the end.
type progressLine struct {
	w       io.Writer
	ref     string
	tty     bool
	updates chan v1.Update
	done    chan struct{}
	last    v1.Update
}

func newProgressLine(w io.Writer, ref string) *progressLine {
	p := &progressLine{
		w:       w,
		ref:     ref,
		tty:     isTerminal(w),
		updates: make(chan v1.Update, 16),
		done:    make(chan struct{}),
	}
	go p.run()
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progressLine) run() {
	defer close(p.done)
	var drawn time.Time
	for u := range p.updates {
		if u.Error != nil {
			continue
		}
		// Retried requests re-send bytes: never show more than the total.
		u.Complete = min(u.Complete, u.Total)
		p.last = u
		if p.tty && time.Since(drawn) > 100*time.Millisecond {
			drawn = time.Now()
			fmt.Fprintf(p.w, "\r\033[Kpushing %s  %s / %s", p.ref, humanBytes(u.Complete), humanBytes(u.Total))
		}
	}
}

// wait blocks until remote closed the updates channel, then finishes the
// line.
func (p *progressLine) wait(err error) {
	<-p.done
	status := "pushed"
	if err != nil {
		status = "push failed"
	}
	prefix := ""
	if p.tty {
		prefix = "\r\033[K"
	}
	fmt.Fprintf(p.w, "%s%s %s  %s\n", prefix, status, p.ref, humanBytes(p.last.Complete))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
