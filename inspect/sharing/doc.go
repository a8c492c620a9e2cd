// Package sharing owns the fleet view of images: how many bytes a set of
// images has in common. Measure reads only manifests and configs (no layer
// data): each image's size, its bytes no other image has, the bytes it
// shares, the bytes shared by every pair of images, and the fleet's dedup
// ratio, the bytes of all images over the bytes a registry stores for them
// (every distinct blob once).
package sharing
