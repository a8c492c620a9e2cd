// Package store owns strata's on-disk content-addressed cache: blobs named
// by their sha256 (checked on every read), derived entries (unpacked
// packages, parsed indexes, finished layers) named by the hash of their
// inputs, and the file locks that make concurrent builds safe.
//
// Every write goes to a temporary name in the same folder, is fsynced and
// then renamed, so a crash or a full disk never leaves a half-written entry
// under its final name.
package store
