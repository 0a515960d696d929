package peertest

import "syscall"

// sysProcAttr asks the kernel to kill the peer when the test binary dies
// (a panic, `go test -timeout`, SIGKILL), when t.Cleanup never runs. The
// signal follows the OS thread that started the child; the Go runtime only
// retires a thread when a goroutine locked to it exits, which test code
// calling StartVersityGW does not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
