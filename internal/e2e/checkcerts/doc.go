// Command checkcerts stands in for distroless's check_certs test binary
// (strata's own, written for the structure tests of examples/distroless):
// it exits 0 when Go's system certificate pool loads from the image and
// holds the Debian CA set, without reaching the network.
package main
