package events

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// Kind is an event's severity.
type Kind int

// Event kinds, from the least to the most important.
const (
	// Progress reports how far a stage is; it is shown only on a terminal.
	Progress Kind = iota
	// Info is a progress message that is not a counter ("resolving debian
	// inputs for linux/amd64"); shown only on a terminal.
	Info
	// Notice is something the user must learn even when stderr is not a
	// terminal: a dependency dropped by exclude, a provider chosen for them.
	Notice
	// Warning is a notice about something likely wrong.
	Warning
)

func (k Kind) String() string {
	switch k {
	case Progress:
		return "progress"
	case Info:
		return "info"
	case Notice:
		return "notice"
	case Warning:
		return "warning"
	}
	return "unknown"
}

// Stages of a build that report progress.
const (
	StageResolve = "resolve"
	StageFetch   = "fetch"
	StageUnpack  = "unpack"
	StageLayer   = "layer"
	StageWrite   = "write"
	StagePush    = "push"
)

// Event is one thing to tell the user.
type Event struct {
	Kind Kind
	// Source names who speaks: "debian", "nix", "build", "push".
	Source string
	// Stage, Scope, Done, Total and Bytes describe a Progress event; Scope
	// narrows the stage (a platform: "linux/amd64").
	Stage, Scope string
	Done, Total  int
	Bytes        int64
	// TotalBytes is what Bytes counts up to (a download's size); 0 when
	// unknown.
	TotalBytes int64
	// Task identifies one running piece of work ("fetch libc6"), so a
	// renderer can show one line per task; End says it finished.
	Task string
	End  bool
	// Subject is what the event is about: a platform, a layer title, a
	// package.
	Subject string
	// Message is the human text, without a severity prefix.
	Message string
}

// Handler receives events; it may be called from several goroutines at
// once (a Log serialises the calls).
type Handler func(Event)

// Log emits events to a Handler. A nil *Log discards everything, so
// library code never checks.
type Log struct {
	mu     sync.Mutex
	h      Handler
	source string
}

// New returns a Log that sends every event to h (nil h: discard).
func New(h Handler) *Log {
	if h == nil {
		return nil
	}
	return &Log{h: h}
}

// With returns a Log whose events name source as their speaker.
func (l *Log) With(source string) *Log {
	if l == nil {
		return nil
	}
	return &Log{h: l.emitShared, source: source}
}

func (l *Log) emitShared(e Event) { l.Emit(e) }

// Emit sends e, filling in the Log's source when e has none.
func (l *Log) Emit(e Event) {
	if l == nil {
		return
	}
	if e.Source == "" {
		e.Source = l.source
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h(e)
}

// Infof emits an Info event.
func (l *Log) Infof(format string, args ...any) { l.emit(Info, format, args...) }

// Noticef emits a Notice event.
func (l *Log) Noticef(format string, args ...any) { l.emit(Notice, format, args...) }

// Warnf emits a Warning event.
func (l *Log) Warnf(format string, args ...any) { l.emit(Warning, format, args...) }

func (l *Log) emit(k Kind, format string, args ...any) {
	if l == nil {
		return
	}
	l.Emit(Event{Kind: k, Message: fmt.Sprintf(format, args...)})
}

// Text renders e as one line of text, as strata prints it:
// "debian: notice: …", "[linux/amd64 3/12] libc6".
func (e Event) Text() string {
	switch e.Kind {
	case Progress:
		scope := e.Scope
		if e.Stage != StageLayer && e.Stage != "" {
			scope = strings.TrimSpace(e.Stage + " " + scope)
		}
		if scope != "" {
			scope += " "
		}
		if e.Total == 0 { // a stream of lines (a build step's log), no count
			return fmt.Sprintf("[%s] %s", strings.TrimSpace(scope), e.Subject)
		}
		return fmt.Sprintf("[%s%d/%d] %s", scope, e.Done, e.Total, e.Subject)
	case Notice, Warning:
		p := e.Kind.String() + ": " + e.Message
		if e.Source != "" {
			p = e.Source + ": " + p
		}
		return p
	}
	if e.Source != "" && e.Source != "build" {
		return e.Source + ": " + e.Message
	}
	return e.Message
}

// WriterHandler writes each event's Text as a line to w: for tests and
// for library users that want plain text.
func WriterHandler(w io.Writer) Handler {
	return func(e Event) { fmt.Fprintln(w, e.Text()) }
}

// Recorder collects events; tests and library users that want a list.
type Recorder struct {
	mu     sync.Mutex
	Events []Event
}

// Handle implements Handler.
func (r *Recorder) Handle(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Events = append(r.Events, e)
}

// Of returns the recorded events of kind k.
func (r *Recorder) Of(k Kind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}
