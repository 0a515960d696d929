package load_test

// Reading what the kernel knows about a process: CPU time, peak RSS and
// byte counts from /proc. Linux only, like the emulator itself.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux ABI Go supports (sysconf would need cgo).
const clockTicks = 100

// procCPU is a process's user+system CPU time in seconds (its own, not its
// reaped children's).
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: the fields
	// that matter come after the last ')'. There, field 3 (state) is
	// index 0, so utime (14) and stime (15) are 11 and 12.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(u+st) / clockTicks, nil
}

// procRunSeconds is the CPU time of pid's live threads, in seconds to the
// nanosecond: the sum of the first field (time on a CPU) of each
// /proc/<pid>/task/<tid>/schedstat. procCPU counts in 10 ms ticks, which is
// ±0.03 ms on a per-read figure over 300 reads, a tenth of a small read;
// this is as exact as the scheduler's own accounting. A thread that exits
// takes its time with it, so a measurement across one is low; Go's runtime
// and nginx's worker keep theirs.
func procRunSeconds(pid int) (float64, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, errors.New("no schedstat")
	}
	var ns uint64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread has gone
		}
		first, _, _ := strings.Cut(string(b), " ")
		n, err := strconv.ParseUint(first, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s", f)
		}
		ns += n
	}
	return float64(ns) / 1e9, nil
}

// procStatusKB reads one "Name:   N kB" field of /proc/<pid>/status.
func procStatusKB(pid int, name string) (int64, error) {
	return procStatusKBFile(fmt.Sprintf("/proc/%d/status", pid), name)
}

// peakRSSMiB is VmHWM, the process's peak resident set, in MiB; -1 when it
// cannot be read.
func peakRSSMiB(pid int) float64 {
	kb, err := procStatusKB(pid, "VmHWM")
	if err != nil {
		return -1
	}
	return float64(kb) / 1024
}

// resetPeakRSS restarts VmHWM from the current RSS (Linux ≥ 4.0), so a peak
// belongs to the run that follows, not to whatever the process did before.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procIO is rchar+wchar: bytes the process passed to read-like and
// write-like system calls, sockets included.
type procIO struct{ Read, Written int64 }

func readProcIO(pid int) (procIO, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return procIO{}, err
	}
	var io procIO
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "rchar":
			io.Read = n
		case "wchar":
			io.Written = n
		}
	}
	return io, nil
}

// childPIDs lists pid's children, from /proc/<pid>/task/*/children.
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// exeBase is the base name of the program pid runs ("" if unknown).
func exeBase(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	return filepath.Base(strings.TrimSuffix(p, " (deleted)"))
}

// childrenNamed lists pid's children running a program called name.
func childrenNamed(pid int, name string) map[int]bool {
	out := map[int]bool{}
	for _, c := range childPIDs(pid) {
		if exeBase(c) == name {
			out[c] = true
		}
	}
	return out
}

// cmdlineFlag returns the value after flag on pid's command line.
func cmdlineFlag(pid int, flag string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// snapshot is the CPU and I/O of one process at one moment.
type snapshot struct {
	cpu float64
	io  procIO
}

func snap(pid int) snapshot {
	if pid <= 0 {
		return snapshot{}
	}
	c, _ := procCPU(pid)
	io, _ := readProcIO(pid)
	return snapshot{cpu: c, io: io}
}

// usage is what a process spent between two snapshots.
type usage struct {
	CPUSeconds   float64 `json:"cpuSeconds"`
	BytesRead    int64   `json:"bytesRead"`
	BytesWritten int64   `json:"bytesWritten"`
}

func since(before, after snapshot) usage {
	return usage{
		CPUSeconds:   after.cpu - before.cpu,
		BytesRead:    after.io.Read - before.io.Read,
		BytesWritten: after.io.Written - before.io.Written,
	}
}

func (u usage) add(o usage) usage {
	return usage{u.CPUSeconds + o.CPUSeconds, u.BytesRead + o.BytesRead, u.BytesWritten + o.BytesWritten}
}
