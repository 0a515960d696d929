package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/routes"
)

// newRulesCmd prints the HTTPS listener (its rule table and the response
// headers it sets) for the values of the template's BucketName, KeyPrefixes
// and SignedHost parameters; the template's tests compare the deployed
// listener with it.
func newRulesCmd(cio cliIO) *cobra.Command {
	var bucket, prefixes, signedHost string
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "rules [flags]",
		Short: "Print the listener rule table as JSON",
		Long: `Prints, as JSON, the ALB HTTPS listener the template deploys and serve
emulates: its rules in priority order and the response headers it sets,
for the values of the template's BucketName, KeyPrefixes, SignedHost and
ReadOnly parameters.`,
		Example: `  s3proxy rules
  s3proxy rules --bucket media --key-prefixes shotgun/,review/`,
		Annotations: map[string]string{"environment": "  None: the table depends on the flags only."},
		Args:        cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p := routes.Params{Bucket: bucket, ReadOnly: readOnly}
			for _, k := range strings.Split(prefixes, ",") {
				if k = strings.TrimSpace(k); k != "" {
					p.KeyPrefixes = append(p.KeyPrefixes, k)
				}
			}
			// As config.FromEnv decides it: a signed host that names the
			// bucket is virtual-hosted; the template's default is.
			p.PathStyle = signedHost != "" && !strings.HasPrefix(signedHost, bucket+".")
			enc := json.NewEncoder(cio.stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return failed(enc.Encode(routes.ListenerFor(p)))
		},
	}
	cmd.Flags().StringVar(&bucket, "bucket", "media", "bucket name (template parameter BucketName)")
	cmd.Flags().StringVar(&prefixes, "key-prefixes", "", "comma list of key prefixes (template parameter KeyPrefixes)")
	cmd.Flags().StringVar(&signedHost, "signed-host", "", "host ShotGrid signs for (template parameter SignedHost; empty: <bucket>.s3.amazonaws.com)")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "a read-only proxy: no rule forwards a write (template parameter ReadOnly)")
	return cmd
}
