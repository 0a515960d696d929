//go:build !linux

package peertest

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; t.Cleanup is the
// only thing that stops the peer there.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
