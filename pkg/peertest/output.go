package peertest

import (
	"bytes"
	"sync"
	"testing"
)

// Output collects what a child process or a logger writes, safely for the
// goroutines that copy it, while the test reads it. With Max > 0 it keeps
// only the last Max bytes, for output that is only shown when a test fails.
type Output struct {
	Max int

	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if over := o.buf.Len() - o.Max; o.Max > 0 && over > 0 {
		o.buf.Next(over)
	}
	return len(p), nil
}

// String is what was kept so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Bytes is a copy of what was kept so far.
func (o *Output) Bytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.buf.Bytes())
}

// ModuleRoot is the directory holding the module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("peertest: %v", err)
	}
	return root
}
