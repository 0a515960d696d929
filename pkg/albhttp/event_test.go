package albhttp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// eventSeeds are event shapes the ALB sends and near misses the fast path
// must hand to encoding/json.
var eventSeeds = []string{
	`{"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},"httpMethod":"GET","path":"/shotgun/a%20b.mov","multiValueQueryStringParameters":{"X-Amz-Signature":["0123"],"X-Amz-Security-Token":["tok%2Ben"]},"multiValueHeaders":{"host":["proxy.test"],"range":["bytes=0-9"],"x-forwarded-for":["10.0.0.1, 10.0.0.2"]},"body":"","isBase64Encoded":false}`,
	`{"httpMethod":"PUT","path":"/k","isBase64Encoded":true,"body":"AAECAwQF/w==","multiValueHeaders":{"content-type":["application/octet-stream"]}}`,
	`{"httpMethod":"GET","path":"/k","queryStringParameters":{"a":"b"},"headers":{"host":"h"}}`,
	` { "httpMethod" : "GET" , "path" : "/\u00e9\n" , "body" : "caf\u00e9 \"q\" \ud83d\ude00 \ud800" } `,
	`{"HTTPMethod":"GET","path":"/k"}`,
	`{"httpmethod":"GET","Path":"/k","BODY":"x"}`,
	`{"httpMethod":"GET","httpMethod":"PUT"}`,
	`{"multiValueHeaders":{"a":["1"]},"multiValueHeaders":{"b":["2"]}}`,
	`{"multiValueHeaders":{"a":null,"b":[],"c":["x",null]}}`,
	`{"headers":{"a":null,"b":"c"},"queryStringParameters":null}`,
	`{"isBase64Encoded":"true"}`,
	`{"isBase64Encoded":null,"body":null,"path":null}`,
	`{"httpMethod":5}`,
	`{"requestContext":5}`,
	`{"requestContext":{"elb":null,"x":1}}`,
	`{"requestContext":{"elb":{"targetGroupArn":"a"},"elb":{"targetGroupArn":"b"}}}`,
	`{"requestContext":{"elb":{"targetGroupArn":7}}}`,
	`{"extra":{"nested":[1,-2.5e+3,true,false,null,"s",{"x":[]}]},"path":"/"}`,
	`{"extra":01}`,
	`{"extra":1.}`,
	`{"path":"/"} x`,
	`{"path":"/",}`,
	`{"path":"\x01"}`,
	"{\"path\":\"\xff\xfe\"}",
	"{\"\xe2\x84\xaaey\":1}",
	`null`,
	`[]`,
	`{}`,
	``,
	`{"path":"/"`,
}

// FuzzDecodeEvent holds the hand-written decoder to encoding/json: for any
// input, the same event and the same verdict (error or not).
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	// The benchmark's event and the function fuzz target's corpus.
	if files, _ := filepath.Glob("testdata/fuzz/FuzzInvoke/*"); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got events.ALBTargetGroupRequest
		wantErr := json.Unmarshal(data, &want)
		gotErr := decodeEvent(data, &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: encoding/json error %v, decodeEvent error %v", data, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%q:\nencoding/json %#v\ndecodeEvent   %#v", data, want, got)
		}
	})
}

// TestDecodeEventFastPath checks that the shapes the ALB sends are decoded
// without encoding/json, which is the point of the decoder.
func TestDecodeEventFastPath(t *testing.T) {
	for i, s := range eventSeeds[:3] {
		var ev events.ALBTargetGroupRequest
		if !fastDecodeEvent([]byte(s), &ev) {
			t.Errorf("seed %d: the fast path gave up on an ALB event", i)
		}
	}
	for _, s := range []string{`{"HTTPMethod":"GET"}`, `{"path":5}`, `{"httpMethod":"GET","httpMethod":"PUT"}`} {
		var ev events.ALBTargetGroupRequest
		if fastDecodeEvent([]byte(s), &ev) {
			t.Errorf("%s: the fast path decoded what it must leave to encoding/json", s)
		}
	}
}

// BenchmarkDecodeEvent prices the hand-written decoder against
// encoding/json on an ALB event as ShotGrid's reads bring it, op by op in
// one loop so that both see the same machine: it reports each side's mean
// and their ratio.
func BenchmarkDecodeEvent(b *testing.B) {
	payload := []byte(eventSeeds[0])
	var base, fast time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		var want events.ALBTargetGroupRequest
		if err := json.Unmarshal(payload, &want); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var got events.ALBTargetGroupRequest
		if err := decodeEvent(payload, &got); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		base, fast = base+t1.Sub(t0), fast+t2.Sub(t1)
	}
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "json-ns/op")
	b.ReportMetric(float64(fast.Nanoseconds())/float64(b.N), "fast-ns/op")
	b.ReportMetric(float64(fast)/float64(base), "ratio")
}
