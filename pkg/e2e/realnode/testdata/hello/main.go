// Command hello is the real-node lane's smallest application: it prints one
// line naming its pod (HELLO_POD) and its arguments, and exits 0, so a test
// can read it back with `kubectl logs`. With HELLO_DIAL=host:port it also
// opens a TCP connection there and says whether it could (exit 1 if not).
package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	fmt.Printf("hello from %s: %s\n", os.Getenv("HELLO_POD"), strings.Join(os.Args[1:], " "))
	if addr := os.Getenv("HELLO_DIAL"); addr != "" {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			fmt.Printf("dial %s: %v\n", addr, err)
			os.Exit(1)
		}
		_ = conn.Close()
		fmt.Printf("dialed %s\n", addr)
	}
}
