// Command hello-go is strata's smallest example: a static Go program that
// greets, built into an image of one file.
package main
