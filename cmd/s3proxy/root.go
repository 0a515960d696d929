package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses, the same for every command.
const (
	exitOK     = 0 // success, and every form of help
	exitFailed = 1 // the command ran and failed, or a check found a fault
	exitUsage  = 2 // the command line was wrong; nothing ran
)

// failure marks an error that happened while the command ran, as opposed
// to a usage error. Cobra's own errors (unknown command, bad flag, wrong
// argument count) are never wrapped in it, so they map to exitUsage.
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// failed wraps err as a run-time failure (exit status 1).
func failed(err error) error {
	if err == nil {
		return nil
	}
	return failure{err}
}

// errSilent is a failure whose output has already said everything, such
// as a check report with a FAIL line.
var errSilent = errors.New("failed")

// usageError is a bad command line found by a command's own checks; the
// message then points at the command's help.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// noArgs refuses positional arguments as a usage error, naming them, for
// the commands that take none but report bad usage with exit status 2.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", args)}
	}
	return nil
}

// cliIO bundles what every command reads and writes, so tests run the whole
// CLI in-process with a map for the environment.
type cliIO struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run executes the CLI with args (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, cliIO{getenv: getenv, stdin: os.Stdin, stdout: stdout, stderr: stderr})
}

// runIO is run with every stream given, stdin included.
func runIO(ctx context.Context, args []string, cio cliIO) int {
	stderr := cio.stderr
	root := newRoot(cio)
	if len(args) == 0 {
		// A bare "s3proxy" is a usage error, not a request for help.
		root.InitDefaultHelpCmd()
		root.InitDefaultHelpFlag()
		root.SetOut(stderr)
		_ = root.Help()
		return exitUsage
	}
	root.SetArgs(normalizeArgs(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	name := "s3proxy"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	var f failure
	if errors.As(err, &f) {
		if errors.Is(f.err, errSilent) {
			return exitFailed
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, f.err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
	return exitUsage
}

// normalizeArgs turns Go-style single-dash long flags (-bucket, -addr=…)
// into the double-dash form pflag expects. Scripts written for the earlier
// flag-package CLI keep working; only names that some command defines as a
// long flag are touched, so shorthand such as -e FILE is left alone.
func normalizeArgs(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true}
	var visit func(*cobra.Command)
	visit = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 && long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// usageTemplate is cobra's usage text with an Environment section, read
// from the command's "environment" annotation, after the flags.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{with index .Annotations "environment"}}

Environment:
{{.}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// Environment sections shared by serve and invoke, which read the
// function's whole contract.
const functionEnvironment = `  S3PROXY_BUCKET            bucket name (required for a deployment's configuration)
  S3PROXY_REGION            bucket region; credential scopes must name it (default AWS_REGION)
  S3PROXY_SIGNED_HOST       host the clients' URLs were signed for (default <bucket>.s3.amazonaws.com)
  S3PROXY_UPSTREAM_URL      where forwarded requests go; their Host stays the signed host
  S3PROXY_ENDPOINT_URL      VPC endpoint base URL for minted redirects, path-style; unset: large reads get 502
  S3PROXY_REDIRECT_VIA      endpoint (redirect to the endpoint host) or proxy (to /_direct/… on the proxy host)
  S3PROXY_PUBLIC_URL        the proxy's public base URL (ShotGrid's S3 Proxy Host Address); Location of proxy-mode redirects
  S3PROXY_INLINE_MAX_BYTES  largest body answered inline (default 716800, at most 725424)
  S3PROXY_REDIRECT_TTL      upper bound on a minted URL's life (default 1h)
  S3PROXY_KEY_PREFIXES      comma list of allowed key prefixes (default: all keys)
  S3PROXY_ALLOWED_ORIGINS   comma list of exact origins the proxy answers CORS for (default: the bucket's CORS rules)
  S3PROXY_LOG_LEVEL         debug, info, warn or error (default info)
  S3PROXY_READ_ONLY         true: refuse every write (a read-only replica proxy; default false)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE
                            the function's credentials (the default chain, as in Lambda)`

func newRoot(cio cliIO) *cobra.Command {
	root := &cobra.Command{
		Use:   "s3proxy",
		Short: "S3 proxy for ShotGrid media traffic isolation: set-up, pre-deploy checks, local twin and deployment check",
		Long: `s3proxy is the command-line side of a serverless S3 proxy for ShotGrid media
traffic isolation. It writes a SAM configuration from ShotGrid's existing
stacks (init), checks it against AWS before anything is built (preflight),
runs the proxy on this machine behind an emulated ALB (serve), runs ALB events
through the function as 'sam local invoke' does but without Docker (invoke),
validates a deployed proxy end to end (check), and prints the listener rule
table the template deploys (rules).`,
		Example: `  s3proxy init --region eu-west-1 --proxy-stack sg-s3-proxy   # samconfig.toml from ShotGrid's stacks
  s3proxy preflight --config-env default                      # before sam deploy
  s3proxy check --stack s3proxy --region eu-west-1            # after it
  s3proxy serve                                               # the whole proxy on 127.0.0.1:8080, with an embedded S3
  s3proxy help serve                                          # a command's flags and variables`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(cio.stdin)
	root.SetOut(cio.stdout)
	root.SetErr(cio.stderr)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetHelpCommand(newHelpCmd(root))
	root.AddCommand(
		newServeCmd(cio),
		newInvokeCmd(cio),
		newInitCmd(cio),
		newPreflightCmd(cio),
		newCheckCmd(cio),
		newRulesCmd(cio),
		newVersionCmd(cio),
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Long = `Prints a shell completion script for s3proxy. Load it in the current shell, or
install it where your shell looks for completions.`
			c.Example = `  source <(s3proxy completion bash)
  s3proxy completion zsh > "${fpath[1]}/_s3proxy"
  s3proxy completion fish > ~/.config/fish/completions/s3proxy.fish`
			// Without a shell, or with one cobra does not know, cobra
			// would print help and exit 0.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) > 0 {
					return usageError{fmt.Sprintf("unknown shell %q: bash, zsh, fish or powershell", args[0])}
				}
				return usageError{"name a shell: bash, zsh, fish or powershell"}
			}
		}
	}
	return root
}

// newHelpCmd replaces cobra's help command, which answers an unknown topic
// with exit status 0; here that is a usage error like any other.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Prints the help of s3proxy, or of one of its commands.",
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, c := range root.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usageError{fmt.Sprintf("unknown help topic %q", strings.Join(args, " "))}
			}
			target.InitDefaultHelpFlag()
			target.SetOut(cmd.OutOrStdout())
			return target.Help()
		},
	}
}
