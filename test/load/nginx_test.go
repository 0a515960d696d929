package load_test

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mediaisolation/s3proxy/pkg/peertest"
)

// nginxConf is ShotGrid's own proxy configuration (the nginx.conf and
// conf.d/s3_proxy.conf.template of shotgunsoftware/s3-proxy-example) with
// what a loopback test must change: one worker, so that its CPU is one
// process's; files in a temporary directory; plain HTTP to the local S3, with
// the signed host set as Host, as proxy_pass to the bucket's own name sets it
// there. The log format, sendfile, keep-alive, the unbuffered temp file and
// the proxy_pass line are theirs. Like theirs, it opens a new upstream
// connection for every request (proxy_pass speaks HTTP/1.0 without an
// upstream keepalive block).
const nginxConf = `
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; use epoll; }
http {
    server_tokens off;
    default_type application/octet-stream;
    log_format s3proxy '[$time_local] $host "$upstream_http_x_request_id" $status "$request" '
                       '$upstream_addr $request_time $upstream_response_time "$sent_http_content_type" $body_bytes_sent '
                       '$remote_addr $cookie__session_id "$http_user_agent" "$http_referer" $ssl_protocol/$ssl_cipher';
    access_log %[1]s/access.log s3proxy;
    sendfile on;
    keepalive_timeout 15;
    client_max_body_size 0;
    proxy_max_temp_file_size 0;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        server_name _;
        location / {
            proxy_pass http://%[3]s$uri$is_args$args;
            proxy_set_header Host %[4]s;
        }
    }
}
`

// startNginx runs nginx with ShotGrid's configuration in front of target,
// on loopback, and returns its worker's PID in relayProc; nil, said in the
// log, when nginx is not installed (Debian: apt-get install nginx-light).
func startNginx(t *testing.T, target string) *relayProc {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Log("nginx is not installed (apt-get install nginx-light): no side with ShotGrid's own proxy")
			return nil
		}
		bin = "/usr/sbin/nginx"
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o777) // workers may run as nobody
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr, u.Host, signedHost), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf)
	logs := &peertest.Output{Max: 16 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // nginx's fast shutdown: the workers go too
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			if kids := childPIDs(cmd.Process.Pid); len(kids) == 1 {
				return &relayProc{pid: kids[0], base: "http://" + addr}
			}
		}
		select {
		case <-done:
			t.Fatalf("nginx exited: %s", logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not start: %s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
