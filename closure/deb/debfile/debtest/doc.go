// Package debtest builds small .deb files for tests: an ar container with
// debian-binary, a control tarball and a data tarball, each compression
// selectable. Hostile entries (traversal, devices, ...) are written as
// given, so tests can check that readers refuse them.
package debtest
