// Package why owns answering "why is this package in my image?": the
// dependency chains in a closure graph from the roots the user asked for
// down to a package, shortest first.
package why
