package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/mediaisolation/s3proxy/pkg/release"
)

// newVersionCmd reports what was built, from the build information the Go
// toolchain embeds, so the answer cannot drift from the binary.
func newVersionCmd(cio cliIO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the release version and the VCS revision this binary was built from",
		Long: `Prints the release version (the same string as the stack's Version output and
the git tag without its "v"), then the module and the version-control revision
this binary was built from, as the Go toolchain recorded them. 'go run' and
builds with -buildvcs=false record no revision; 'make build/s3proxy' does.`,
		Example:     "  s3proxy version",
		Annotations: map[string]string{"environment": "  None."},
		Args:        cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info, ok := debug.ReadBuildInfo()
			if !ok {
				return failed(fmt.Errorf("this binary carries no build information"))
			}
			writeVersion(cio.stdout, info)
			return nil
		},
	}
}

// writeVersion prints the release, then info as "name value" lines.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	module := info.Main.Version
	if module == "" {
		module = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	revision := settings["vcs.revision"]
	switch {
	case revision == "":
		revision = "unknown (built without VCS stamping: go run, or -buildvcs=false)"
	case settings["vcs.modified"] == "true":
		revision += " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "s3proxy %s\n", release.Version)
	fmt.Fprintf(w, "  module    %s %s\n", info.Main.Path, module)
	fmt.Fprintf(w, "  revision  %s\n", revision)
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(w, "  committed %s\n", t)
	}
	fmt.Fprintf(w, "  go        %s %s/%s\n", info.GoVersion, settings["GOOS"], settings["GOARCH"])
}
