// Command s3proxy runs the proxy's local twin and prints its listener rules.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

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
		return rules(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "s3proxy: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// rules prints the listener rule table for a bucket and its key prefixes,
// the values the template's BucketName and KeyPrefixes parameters carry.
func rules(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bucket := fs.String("bucket", "media", "bucket name (template parameter BucketName)")
	prefixes := fs.String("key-prefixes", "", "comma list of key prefixes (template parameter KeyPrefixes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var p routes.Params
	p.Bucket = *bucket
	for _, k := range strings.Split(*prefixes, ",") {
		if k = strings.TrimSpace(k); k != "" {
			p.KeyPrefixes = append(p.KeyPrefixes, k)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(routes.Table(p)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
