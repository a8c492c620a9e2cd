// Package imagefs owns reading what an image's layers hold: one walker over
// a layer's tar stream (whiteouts and opaque markers recognised), and one
// flattener that applies the layers in order into the final filesystem. It
// reads v1.Image and v1.Layer only, so inspect (files, layers, efficiency,
// diff) and the sources that recover packages from an image
// (closure/deb.FromImage, closure/nix.FromImage) share it without importing
// each other or the reference parser in imageref.
package imagefs
