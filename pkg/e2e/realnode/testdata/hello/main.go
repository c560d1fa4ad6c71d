// Command hello is the real-node lane's smallest application: it prints one
// line naming its pod (HELLO_POD) and its arguments, and exits 0, so a test
// can read it back with `kubectl logs`.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Printf("hello from %s: %s\n", os.Getenv("HELLO_POD"), strings.Join(os.Args[1:], " "))
}
