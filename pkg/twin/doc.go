// Package twin is the local stand-in for the deployed stack: an emulated
// Application Load Balancer in front of the proxy function. SAM has no local
// ALB, so this package applies the template's HTTPS listener (package
// routes) rule by rule from its conditions and actions: it crosses the same
// ALB→Lambda boundary the real one does — a multi-value JSON event, base64
// bodies, 413 above 1 MB, 502 for an oversize or malformed response —,
// forwards the passthrough and /_direct routes with a host-rewriting reverse
// proxy, as the ALB's IP target group does, answers the fixed-response rules
// itself without invoking anything, and sets the listener's response headers
// on every answer.
package twin
