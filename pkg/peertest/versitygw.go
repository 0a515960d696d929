package peertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// VersityGWOptions configure StartVersityGW. The zero value is usable.
type VersityGWOptions struct {
	// Buckets are created once the gateway answers.
	Buckets []string
	// Region is the gateway's region; default us-east-1.
	Region string
	// VirtualDomain is the base domain for virtual-hosted addressing;
	// default s3.amazonaws.com, so that a request with Host
	// <bucket>.s3.amazonaws.com addresses <bucket>, exactly as the URLs
	// ShotGrid mints are signed. Path-style requests to the gateway's own
	// address keep working alongside.
	VirtualDomain string
	// StartTimeout bounds the wait for the gateway to answer; default 10s.
	StartTimeout time.Duration
	// IAM runs the gateway with its internal IAM (--iam-dir, a fresh
	// t.TempDir()), so that S3.CreateUser can add users and bucket policies
	// can name them. The root credentials work exactly as without it.
	// Only StartVersityGW honours it; StartSeaweedFS ignores it.
	IAM bool
	// KeepAlive lets clients reuse connections (--keep-alive), as S3 does.
	// versitygw closes every connection after one request by default,
	// which puts a TCP dial into every measured request.
	KeepAlive bool
}

// S3 is a running S3 peer.
type S3 struct {
	// URL is the base URL, http://127.0.0.1:PORT, with no trailing slash.
	URL string
	// Region, AccessKeyID and SecretAccessKey are what requests must be
	// signed with. The keys are generated per run.
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	// Credentials provides the keys above, statically.
	Credentials aws.CredentialsProvider
	// Client is an SDK client for the peer: path-style against URL, header
	// auth, checksums only when an operation requires them.
	Client *s3.Client
	// PID is the peer's process ID.
	PID int

	// iam says the peer is a versitygw with internal IAM (VersityGWOptions.IAM),
	// which CreateUser needs.
	iam bool
	// root holds the root credentials when Credentials are another user's
	// (see As); nil means Credentials are root's.
	root aws.CredentialsProvider
}

// AWSConfig is a minimal aws.Config holding the peer's region and
// credentials, for code under test that builds its own clients.
func (s *S3) AWSConfig() aws.Config {
	return aws.Config{Region: s.Region, Credentials: s.Credentials}
}

// StartVersityGW runs versitygw (posix backend in a fresh t.TempDir()) on a
// free loopback port and returns once it answers and opts.Buckets exist.
// versitygw checks SigV4 header and query auth, including expiry, which is
// what makes it a fair judge of the proxy's signature handling.
//
// The process is stopped by PID in t.Cleanup: SIGTERM, then SIGKILL if it
// has not exited within five seconds. On Linux it is also killed if the test
// binary dies first, so no gateway outlives a crashed or timed-out run.
func StartVersityGW(t testing.TB, opts VersityGWOptions) *S3 {
	t.Helper()
	bin := Binary(t, "versitygw")
	opts.defaults(10 * time.Second)
	// Registered before the process's own cleanup, so it runs after it:
	// the directory is removed only once the gateway has stopped.
	root := t.TempDir()
	access, secret := generateKeys(t)
	var iamArgs []string
	if opts.IAM {
		iamArgs = []string{"--iam-dir", t.TempDir()}
	}

	var (
		p   *process
		err error
	)
	// A free port found by listening and closing can be taken again before
	// the gateway binds it; a gateway that exits at once is retried.
	for attempt := 0; attempt < 3; attempt++ {
		var addr string
		if addr, err = freeLoopbackAddr(); err != nil {
			t.Fatalf("peertest: %v", err)
		}
		args := []string{"--port", addr, "--quiet", "--region", opts.Region, "--virtual-domain", opts.VirtualDomain}
		if opts.KeepAlive {
			args = append(args, "--keep-alive")
		}
		args = append(append(args, iamArgs...), "posix", root)
		p, err = startProcess(t, bin, args, gatewayEnv(access, secret))
		if err != nil {
			t.Fatalf("peertest: starting versitygw: %v", err)
		}
		if err = waitHTTP(p, "http://"+addr+"/", opts.StartTimeout); err == nil {
			s := newS3("http://"+addr, opts.Region, access, secret, p.cmd.Process.Pid)
			s.iam = opts.IAM
			createBuckets(t, s, opts.Buckets)
			return s
		}
		if !p.exited() {
			break
		}
		t.Logf("peertest: versitygw exited during start-up on %s (attempt %d): %s", addr, attempt+1, p.output())
	}
	t.Fatalf("peertest: versitygw did not start: %v\n%s", err, p.output())
	return nil
}

// newS3 describes a running peer and builds its SDK client.
func newS3(url, region, access, secret string, pid int) *S3 {
	s := &S3{
		URL: url, Region: region, AccessKeyID: access, SecretAccessKey: secret,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
		PID:         pid,
	}
	s.Client = s3.New(s3.Options{
		Region:                     s.Region,
		Credentials:                s.Credentials,
		BaseEndpoint:               aws.String(s.URL),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return s
}

func createBuckets(t testing.TB, s *S3, buckets []string) {
	t.Helper()
	if err := tryCreateBuckets(s, buckets); err != nil {
		t.Fatalf("peertest: creating buckets %q: %v", buckets, err)
	}
}

// defaults fills the zero fields of o, with startTimeout for the wait.
func (o *VersityGWOptions) defaults(startTimeout time.Duration) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.VirtualDomain == "" {
		o.VirtualDomain = "s3.amazonaws.com"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = startTimeout
	}
}

// gatewayEnv is the test's environment with the root credentials set and
// every other setting of versitygw's removed, so a developer's shell cannot
// change what the tests run against.
func gatewayEnv(access, secret string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VGW_") || strings.HasPrefix(k, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "ROOT_ACCESS_KEY_ID="+access, "ROOT_SECRET_ACCESS_KEY="+secret)
}

// generateKeys returns a fresh access key (20 characters, as AWS's) and a
// secret (40 characters, including '/' and '+', as AWS's can).
func generateKeys(t testing.TB) (access, secret string) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b [60]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("peertest: %v", err)
	}
	a := []byte("AKIA")
	for _, c := range b[:16] {
		a = append(a, upper[int(c)%len(upper)])
	}
	s := make([]byte, 0, 40)
	for _, c := range b[16:56] {
		s = append(s, alnum[int(c)%len(alnum)])
	}
	return string(a), string(s)
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHTTP polls url until any HTTP answer comes back (an unsigned request
// gets an S3 error, which is proof enough of life), the process exits, or
// the timeout passes.
func waitHTTP(p *process, url string, timeout time.Duration) error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if p.exited() {
			return errors.New("the process exited")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s within %v: %w", url, timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// process is a child process stopped by t.Cleanup.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  *Output
}

// stopGrace is how long a peer has to exit after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

func startProcess(t testing.TB, bin string, args, env []string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out := &Output{Max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	// Children of the peer that keep its output pipes open must not make
	// Wait, and so the test's clean-up, block.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), out: out}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			if s := p.output(); s != "" {
				t.Logf("peertest: output of %s (pid %d):\n%s", bin, cmd.Process.Pid, s)
			}
		}
	})
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after stopGrace.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) output() string { return strings.TrimSpace(p.out.String()) }

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return host, n, err
}

// tryCreateBuckets creates buckets, reporting the first failure.
func tryCreateBuckets(s *S3, buckets []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range buckets {
		if _, err := s.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			var owned *types.BucketAlreadyOwnedByYou
			if errors.As(err, &owned) {
				continue
			}
			return err
		}
	}
	return nil
}
