// Package release holds the product's release version, the one string that
// `s3proxy version`, the stack's Version output and the changelog's newest
// heading carry, so a deployed stack and the CLI that checks it can be
// matched to a tag.
package release

// Version is the release this tree is, without a leading "v"; the git tag
// is "v" + Version.
const Version = "0.3.1"
