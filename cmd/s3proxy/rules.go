package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/routes"
)

// newRulesCmd prints the listener rule table for a bucket and its key
// prefixes, the values the template's BucketName and KeyPrefixes parameters
// carry; the template's tests compare the deployed rules with it.
func newRulesCmd(cio cliIO) *cobra.Command {
	var bucket, prefixes string
	cmd := &cobra.Command{
		Use:   "rules [flags]",
		Short: "Print the listener rule table as JSON",
		Long: `Prints, as JSON, the ALB listener rules the template deploys and serve
emulates, for a bucket and its key prefixes: the values of the template's
BucketName and KeyPrefixes parameters.`,
		Example: `  s3proxy rules
  s3proxy rules --bucket media --key-prefixes shotgun/,review/`,
		Annotations: map[string]string{"environment": "  None: the table depends on the flags only."},
		Args:        cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var p routes.Params
			p.Bucket = bucket
			for _, k := range strings.Split(prefixes, ",") {
				if k = strings.TrimSpace(k); k != "" {
					p.KeyPrefixes = append(p.KeyPrefixes, k)
				}
			}
			enc := json.NewEncoder(cio.stdout)
			enc.SetIndent("", "  ")
			return failed(enc.Encode(routes.Table(p)))
		},
	}
	cmd.Flags().StringVar(&bucket, "bucket", "media", "bucket name (template parameter BucketName)")
	cmd.Flags().StringVar(&prefixes, "key-prefixes", "", "comma list of key prefixes (template parameter KeyPrefixes)")
	return cmd
}
