package peertest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// MotoOptions configure StartMoto. The zero value is usable.
type MotoOptions struct {
	// Env is added to moto_server's environment, e.g.
	// MOTO_ACM_VALIDATION_WAIT=1 for certificates ISSUED a second after
	// they are requested.
	Env []string
	// StartTimeout bounds the wait for moto_server to answer; default 30s
	// (it is a Python server, slow to start on a busy machine).
	StartTimeout time.Duration
}

// Moto is a running moto_server: AWS's control-plane APIs (CloudFormation,
// EC2, ELBv2, ACM, …) in memory, for code that reads and changes an
// account. It checks no signatures, so it is never a judge of them.
type Moto struct {
	// URL is the base URL, http://127.0.0.1:PORT, every service's endpoint.
	URL string
	// Credentials are the static testing/testing keys moto accepts.
	Credentials aws.CredentialsProvider
	// PID is moto_server's process ID.
	PID int
}

// StartMoto runs moto_server on a free loopback port and returns once it
// answers. Like the other peers it is stopped by PID in t.Cleanup (SIGTERM,
// then SIGKILL), killed with the test binary on Linux, and its output is
// logged when the test fails.
func StartMoto(t testing.TB, opts MotoOptions) *Moto {
	t.Helper()
	bin := Binary(t, "moto_server")
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	env := append(os.Environ(), opts.Env...)
	var (
		p   *process
		err error
	)
	// A free port found by listening and closing can be taken again before
	// moto binds it; a moto_server that exits at once is retried.
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		p, err = startProcess(t, bin, []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)}, env)
		if err != nil {
			t.Fatalf("peertest: starting moto_server: %v", err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		if err = waitHTTP(p, url+"/moto-api/", opts.StartTimeout); err == nil {
			return &Moto{URL: url, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""), PID: p.cmd.Process.Pid}
		}
		if !p.exited() {
			break
		}
		t.Logf("peertest: moto_server exited during start-up on port %d (attempt %d): %s", port, attempt+1, p.output())
	}
	t.Fatalf("peertest: moto_server did not start: %v\n%s", err, p.output())
	return nil
}

// AWSConfig is an aws.Config for region that sends every client to moto.
func (m *Moto) AWSConfig(region string) aws.Config {
	return aws.Config{Region: region, Credentials: m.Credentials, BaseEndpoint: aws.String(m.URL)}
}
