// Command s3proxy runs the proxy's local twin and prints its listener rules.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/mediaisolation/s3proxy/pkg/routes"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: s3proxy <command> [flags]

commands:
  serve   run the proxy locally behind an emulated ALB
  rules   print the listener rule table as JSON
  check   validate a deployed proxy end to end, as ShotGrid's clients use it
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(context.Background(), args[1:], os.Getenv, stdout, stderr)
	case "check":
		return check(context.Background(), args[1:], os.Getenv, stdout, stderr)
	case "rules":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(routes.Table()); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "s3proxy: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
