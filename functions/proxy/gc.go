package main

import (
	"runtime"
	"runtime/debug"
	"strconv"
)

// vCPUMB is the memory at which Lambda gives a function one full vCPU:
// "At 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second
// of credits per second)"
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
const vCPUMB = 1769

// runtimeSettings are the Go runtime settings for a function of memMB,
// each left alone when the operator set its environment variable.
type runtimeSettings struct {
	maxProcs    int   // 0: leave GOMAXPROCS alone
	gcPercent   int   // 0: leave GOGC alone
	memoryLimit int64 // bytes; 0: leave GOMEMLIMIT alone
}

// tuneFor chooses the settings for a function of memMB megabytes on a
// machine with cpus processors. The function serves one request at a time
// and gets CPU in proportion to its memory, so:
//   - GOMAXPROCS is the whole vCPUs the memory buys (at least 1): a second
//     P on a fraction of one vCPU only adds scheduler and GC hand-offs.
//     Measured on the real bootstrap, it cuts CPU per inline read by about
//     a third (BENCHMARKS.md, "The inline path's CPU").
//   - GOGC is 400: the live heap is a few MiB, so collecting at 5× it is
//     still far below the memory, and collections become rarer.
//   - GOMEMLIMIT is 80% of the memory, so that a heap that does grow is
//     collected before Lambda kills the environment for using too much,
//     leaving room for stacks and the runtime's own memory.
func tuneFor(memMB, cpus int, getenv func(string) string) runtimeSettings {
	var s runtimeSettings
	if memMB <= 0 {
		return s
	}
	if getenv("GOMAXPROCS") == "" {
		s.maxProcs = min(max(1, (memMB+vCPUMB-1)/vCPUMB), cpus)
	}
	if getenv("GOGC") == "" {
		s.gcPercent = 400
	}
	if getenv("GOMEMLIMIT") == "" {
		s.memoryLimit = int64(memMB) << 20 / 10 * 8
	}
	return s
}

// tuneRuntime applies tuneFor for the function's configured memory, which
// Lambda passes in AWS_LAMBDA_FUNCTION_MEMORY_SIZE (in MB).
func tuneRuntime(getenv func(string) string) runtimeSettings {
	mem, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil {
		return runtimeSettings{}
	}
	s := tuneFor(mem, runtime.NumCPU(), getenv)
	if s.maxProcs > 0 {
		runtime.GOMAXPROCS(s.maxProcs)
	}
	if s.gcPercent > 0 {
		debug.SetGCPercent(s.gcPercent)
	}
	if s.memoryLimit > 0 {
		debug.SetMemoryLimit(s.memoryLimit)
	}
	return s
}
