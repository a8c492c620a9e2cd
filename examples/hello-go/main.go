// Command hello-go is strata's smallest example: a static Go program that
// greets, built into an image of one file.
package main

import (
	"fmt"
	"os"
)

func main() {
	who := os.Getenv("GREETING_NAME")
	if who == "" {
		who = "world"
	}
	fmt.Printf("Hello, %s! (from a strata image)\n", who)
}
