// Package e2e holds strata's end-to-end tests: the real binary, run on
// real inputs, checked by external validators (crane, skopeo, umoci) and
// the Docker Engine. Its helpers build the binary once per test run.
package e2e
