package release

import (
	"regexp"
	"testing"
)

// The version is the tag without its "v": three numbers, no suffix, so
// that "v"+Version is a semantic-version tag Go modules accept.
func TestVersionIsATag(t *testing.T) {
	if !regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`).MatchString(Version) {
		t.Errorf("Version %q is not MAJOR.MINOR.PATCH", Version)
	}
}
