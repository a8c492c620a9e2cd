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
