// Command relay is the baseline TestRelayComparison measures s3proxy
// against: a plain relaying reverse proxy, standing in for the nginx
// container ShotGrid used to ship. Every request is forwarded to -target with
// Host set to -host (the host the client's URL was signed for), its raw path
// and raw query untouched so that S3 can still check the signature, and every
// byte of both bodies passes through this process.
//
// It counts what crosses its client-facing side (request line, headers and
// body in; status line, headers and body out) and serves the counters as
// JSON on a second loopback listener (-stats), so that a test can take
// before/after snapshots. On start it prints one line:
//
//	relay listening on http://ADDR stats http://ADDR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// counters are the relay's client-facing byte and request counts.
type counters struct {
	Requests            atomic.Int64
	RequestHeaderBytes  atomic.Int64
	RequestBodyBytes    atomic.Int64
	ResponseHeaderBytes atomic.Int64
	ResponseBodyBytes   atomic.Int64
}

func (c *counters) snapshot() map[string]int64 {
	return map[string]int64{
		"requests":            c.Requests.Load(),
		"requestHeaderBytes":  c.RequestHeaderBytes.Load(),
		"requestBodyBytes":    c.RequestBodyBytes.Load(),
		"responseHeaderBytes": c.ResponseHeaderBytes.Load(),
		"responseBodyBytes":   c.ResponseBodyBytes.Load(),
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve the relay on")
	statsAddr := flag.String("stats", "127.0.0.1:0", "address to serve the counters on")
	target := flag.String("target", "", "base URL every request is forwarded to, e.g. http://127.0.0.1:7070")
	host := flag.String("host", "", "Host header sent upstream (the signed host); empty keeps the client's")
	flag.Parse()
	if *target == "" {
		log.Fatal("relay: -target is required")
	}
	base, err := url.Parse(*target)
	if err != nil || base.Scheme == "" || base.Host == "" {
		log.Fatalf("relay: bad -target %q", *target)
	}

	var c counters
	rp := &httputil.ReverseProxy{
		Transport: &http.Transport{
			Proxy: nil, DisableCompression: true,
			MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			rawPath, rawQuery, _ := strings.Cut(pr.In.RequestURI, "?")
			out := &url.URL{Scheme: base.Scheme, Host: base.Host, RawQuery: rawQuery}
			decoded, err := url.PathUnescape(rawPath)
			if err == nil {
				out.Path, out.RawPath = decoded, rawPath
			}
			if err != nil || out.EscapedPath() != rawPath {
				// Path and RawPath cannot say it: send the bytes as they came.
				out.Path, out.RawPath, out.Opaque = "", "", rawPath
			}
			pr.Out.URL = out
			if *host != "" {
				pr.Out.Host = *host
			} else {
				pr.Out.Host = pr.In.Host
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Printf("relay: upstream: %v", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Requests.Add(1)
		c.RequestHeaderBytes.Add(int64(len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host) + headerSize(r.Header)))
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &countingBody{ReadCloser: r.Body, n: &c.RequestBodyBytes}
		}
		rp.ServeHTTP(&countingWriter{ResponseWriter: w, c: &c}, r)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("relay: %v", err)
	}
	sln, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		log.Fatalf("relay: %v", err)
	}
	go func() {
		err := http.Serve(sln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(c.snapshot())
		}))
		log.Printf("relay: stats: %v", err)
	}()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = srv.Close()
	}()
	fmt.Printf("relay listening on http://%s stats http://%s\n", ln.Addr(), sln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("relay: %v", err)
	}
}

// headerSize approximates the wire size of h: "Key: value\r\n" per value,
// plus the blank line that ends the block.
func headerSize(h http.Header) int {
	n := 2
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// countingWriter counts the response as it leaves for the client. Unwrap
// lets http.ResponseController (which ReverseProxy uses to flush) reach the
// real writer.
type countingWriter struct {
	http.ResponseWriter
	c           *counters
	wroteHeader bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.wroteHeader = true
		w.c.ResponseHeaderBytes.Add(int64(len("HTTP/1.1 000 ") + len(http.StatusText(code)) + 2 + headerSize(w.Header())))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.c.ResponseBodyBytes.Add(int64(n))
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
