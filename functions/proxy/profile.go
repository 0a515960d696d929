//go:build pprof

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// With the pprof build tag (never in the deploy artifact), the function
// profiles itself from start-up until the emulator stops it: CPU into
// $S3PROXY_PROFILE_DIR/cpu.pprof and allocations into allocs.pprof, written
// on SIGTERM. This is how BENCHMARKS.md profiles the real bootstrap, with
// the runtime API, the upstream read and the response post all in the
// picture. Without the tag this file is not compiled and costs nothing.
func init() {
	dir := os.Getenv("S3PROXY_PROFILE_DIR")
	if dir == "" {
		return
	}
	// Sample every 64 KiB allocated instead of every 512 KiB, so that a
	// run of small reads is seen, without the sampling itself showing up
	// in the CPU profile.
	runtime.MemProfileRate = 64 << 10
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	// 1 kHz instead of 100 Hz: a read costs about a millisecond.
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		pprof.StopCPUProfile()
		_ = cpu.Close()
		if f, err := os.Create(filepath.Join(dir, "allocs.pprof")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
		os.Exit(0)
	}()
}
