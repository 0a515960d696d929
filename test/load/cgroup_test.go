package load_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cpuQuota is a child cgroup that limits the processes moved into it to a
// share of one CPU: quota microseconds of CPU time in every period. It
// models how Lambda gives a function CPU in proportion to its memory.
// Lambda does not document how it enforces that share over short
// intervals, so TestPower runs two periods.
type cpuQuota struct {
	dir    string // the child cgroup
	parent string // where its processes go back to
	v2     bool
}

// cgroupRoots are where the CPU controller is found: cgroup v1's cpu
// hierarchy, or the unified (v2) hierarchy.
const (
	cgroupV1CPU = "/sys/fs/cgroup/cpu"
	cgroupV2    = "/sys/fs/cgroup"
)

// newCPUQuota creates the child cgroup with quota/period (both in µs), or
// says why it cannot: not root, no CPU controller, or a kernel that refuses
// the values (quotas under 1 ms are refused).
func newCPUQuota(name string, quotaUs, periodUs int) (*cpuQuota, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("setting a CPU quota needs root")
	}
	if _, err := os.Stat(filepath.Join(cgroupV1CPU, "cpu.cfs_quota_us")); err == nil {
		q := &cpuQuota{dir: filepath.Join(cgroupV1CPU, name), parent: cgroupV1CPU}
		if err := os.Mkdir(q.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating cgroup %s: %w", q.dir, err)
		}
		if err := errors.Join(
			os.WriteFile(filepath.Join(q.dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(periodUs)), 0o644),
			os.WriteFile(filepath.Join(q.dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(quotaUs)), 0o644),
		); err != nil {
			_ = q.remove()
			return nil, fmt.Errorf("setting cpu.cfs_quota_us=%d cpu.cfs_period_us=%d: %w", quotaUs, periodUs, err)
		}
		return q, nil
	}
	ctl, err := os.ReadFile(filepath.Join(cgroupV2, "cgroup.controllers"))
	if err != nil || !strings.Contains(" "+string(ctl)+" ", " cpu ") {
		return nil, errors.New("no cgroup CPU controller (neither cgroup v1's cpu hierarchy nor cpu in cgroup v2's controllers)")
	}
	_ = os.WriteFile(filepath.Join(cgroupV2, "cgroup.subtree_control"), []byte("+cpu"), 0o644)
	q := &cpuQuota{dir: filepath.Join(cgroupV2, name), parent: cgroupV2, v2: true}
	if err := os.Mkdir(q.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup %s: %w", q.dir, err)
	}
	if err := os.WriteFile(filepath.Join(q.dir, "cpu.max"), []byte(fmt.Sprintf("%d %d", quotaUs, periodUs)), 0o644); err != nil {
		_ = q.remove()
		return nil, fmt.Errorf("setting cpu.max=%d %d: %w", quotaUs, periodUs, err)
	}
	return q, nil
}

// move puts a process (all its threads) into the cgroup.
func (q *cpuQuota) move(pid int) error {
	return os.WriteFile(filepath.Join(q.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// release puts a process back into the parent cgroup.
func (q *cpuQuota) release(pid int) error {
	return os.WriteFile(filepath.Join(q.parent, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// throttled is the kernel's count of periods in which the cgroup ran out
// of quota, and the total time it was held back, in ms.
func (q *cpuQuota) throttled() (periods int64, ms float64) {
	b, err := os.ReadFile(filepath.Join(q.dir, "cpu.stat"))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "nr_throttled":
			periods = n
		case "throttled_time": // v1, ns
			ms = float64(n) / 1e6
		case "throttled_usec": // v2
			ms = float64(n) / 1e3
		}
	}
	return periods, ms
}

// remove moves any process left back to the parent and deletes the cgroup.
func (q *cpuQuota) remove() error {
	if b, err := os.ReadFile(filepath.Join(q.dir, "cgroup.procs")); err == nil {
		for _, f := range strings.Fields(string(b)) {
			_ = os.WriteFile(filepath.Join(q.parent, "cgroup.procs"), []byte(f), 0o644)
		}
	}
	return os.Remove(q.dir)
}
