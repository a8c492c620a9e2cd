// Package cache owns the interfaces every stage caches through: Blobs
// (content by sha256, verified when read), Index (small records by input
// key: a layer's info, a parsed package index), Trees (local folders by key:
// unpacked .debs, a Nix database, later build-step outputs) and Locks
// (inter-process mutual exclusion). No caller builds a cache path; the file
// system implementation is package store, and a registry-backed one can
// decorate it (go-containerregistry's pkg/v1/cache has the same shape: a
// cache is an interface, the file system one implementation).
package cache
