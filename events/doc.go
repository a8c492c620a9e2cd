// Package events owns what long work tells the user while it runs: typed
// Progress (a stage with done/total and bytes), Info, Notice and Warning
// events. Library code emits them through a *Log; the CLI decides how to
// render them (one updating line on a terminal, notices and warnings on
// stderr always, nothing with --quiet). No caller parses text to learn an
// event's severity.
package events
