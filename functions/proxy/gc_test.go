package main

import "testing"

func TestTuneFor(t *testing.T) {
	none := func(string) string { return "" }
	cases := []struct {
		name   string
		memMB  int
		cpus   int
		getenv func(string) string
		want   runtimeSettings
	}{
		{"128 MB: one P", 128, 2, none, runtimeSettings{1, 400, 128 << 20 / 10 * 8}},
		{"512 MB: one P", 512, 2, none, runtimeSettings{1, 400, 512 << 20 / 10 * 8}},
		{"1769 MB is one vCPU", 1769, 2, none, runtimeSettings{1, 400, 1769 << 20 / 10 * 8}},
		{"1770 MB buys a second", 1770, 2, none, runtimeSettings{2, 400, 1770 << 20 / 10 * 8}},
		{"never more Ps than CPUs", 10240, 6, none, runtimeSettings{6, 400, 10240 << 20 / 10 * 8}},
		{"no memory size: nothing", 0, 2, none, runtimeSettings{}},
		{"the operator's settings win", 512, 2, func(k string) string {
			return map[string]string{"GOMAXPROCS": "2", "GOGC": "100", "GOMEMLIMIT": "100MiB"}[k]
		}, runtimeSettings{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tuneFor(c.memMB, c.cpus, c.getenv); got != c.want {
				t.Errorf("tuneFor(%d, %d) = %+v, want %+v", c.memMB, c.cpus, got, c.want)
			}
		})
	}
}

func TestTuneRuntimeReadsTheMemorySize(t *testing.T) {
	env := map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "not a number"}
	if got := tuneRuntime(func(k string) string { return env[k] }); got != (runtimeSettings{}) {
		t.Errorf("an unreadable memory size changed the runtime: %+v", got)
	}
}
