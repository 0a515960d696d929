// Command s3proxy runs the proxy's local twin, invokes the function with ALB
// events, checks a deployment and prints the listener rules; root.go holds
// the command tree.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
