// Package httpretry is strata's one HTTP retry policy: how many attempts,
// the pause between them (exponential, with a cap), and which failures are
// worth another attempt (dropped or refused connections, timeouts of one
// attempt, HTTP 408, 429 and 5xx other than 501 and 505). A cancelled
// context is never retried and ends a pause at once.
//
// Policy.Do retries a whole operation (the Debian fetcher: a GET and the
// reading of its body); Transport retries each request of an http.Client
// (the registry client, under go-containerregistry).
package httpretry
