// Command static is a tiny program the image builder's tests compile
// static (CGO_ENABLED=0) to stand in for the real binaries.
package main

import "fmt"

func main() { fmt.Println("static") }
