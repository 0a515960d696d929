package lambdart

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rawAPI is a runtime API over loopback that answers every "next" with the
// same bytes, and every post with the emulator's 202. Written by hand, with
// no header map of its own, so that the benchmarks measure the client.
type rawAPI struct {
	ln       net.Listener
	next     []byte
	accepted []byte
	// hangUp closes the connection after each post's answer, without
	// saying so, as a server that drops kept-alive connections does.
	hangUp bool
	mu     sync.Mutex
	conns  []net.Conn
	posts  int
}

const acceptedAnswer = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n" +
	"Date: Wed, 02 Dec 2026 04:37:31 GMT\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"

func startRawAPI(tb testing.TB, next, accepted string, hangUp bool) *rawAPI {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &rawAPI{ln: ln, next: []byte(next), accepted: []byte(accepted), hangUp: hangUp}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
			go f.serve(conn)
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			_ = c.Close()
		}
	})
	return f
}

func (f *rawAPI) addr() string { return f.ln.Addr().String() }

func (f *rawAPI) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		get := bytes.HasPrefix(line, []byte("GET "))
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		answer := f.next
		if !get {
			answer = f.accepted
			f.mu.Lock()
			f.posts++
			f.mu.Unlock()
		}
		if _, err := conn.Write(answer); err != nil || !get && f.hangUp {
			_ = conn.Close()
			return
		}
	}
}

func TestServeOneAgainstTheWire(t *testing.T) {
	apiError := `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`
	for _, tc := range []struct {
		name           string
		next, accepted string
		hangUp         bool
		err            string // in the error of every invocation; none if empty
		conns          int    // connections opened for three invocations (one each after an error)
	}{
		{name: "event with a length", next: withLength(nextHead, event), accepted: acceptedAnswer, conns: 1},
		{name: "chunked event, as the emulator sends one over 2 KiB", next: chunked(nextHead, event), accepted: acceptedAnswer, conns: 1},
		{name: "the API hangs up after each answer", next: withLength(nextHead, event), accepted: acceptedAnswer, hangUp: true, conns: 3},
		{name: "the API refuses the answer", next: withLength(nextHead, event),
			accepted: withLength("HTTP/1.1 400 Bad Request\r\n", apiError), err: `400 Bad Request: "{\"errorMessage\":\"Invalid request ID\"`, conns: 3},
		{name: "the API fails on next", next: withLength("HTTP/1.1 500 Internal Server Error\r\n", "{}"), err: "next invocation: 500 Internal Server Error", conns: 3},
		{name: "a malformed answer is not asked again", next: "HTTP/1.1 OK\r\n\r\n", err: "malformed answer", conns: 3},
		{name: "no deadline", next: withLength("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n", "{}"), err: "invocation x has no deadline", conns: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := startRawAPI(t, tc.next, tc.accepted, tc.hangUp)
			c := &client{addr: api.addr()}
			h := &fixedHandler{}
			for i := 0; i < 3; i++ {
				err := c.serveOne(h)
				switch {
				case tc.err == "" && err != nil:
					t.Fatalf("invocation %d: %v", i, err)
				case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
					t.Fatalf("invocation %d: error %v, want one with %s", i, err, tc.err)
				case tc.err != "":
					c.reset() // as Serve's caller does, by exiting
				}
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.conns) != tc.conns {
				t.Errorf("%d connections, want %d", len(api.conns), tc.conns)
			}
			if want := 3 * len(event); tc.err == "" && h.n != want {
				t.Errorf("handler saw %d bytes of events, want %d", h.n, want)
			}
		})
	}
}
