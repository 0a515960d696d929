package albhttp

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// decodeEvent decodes an ALB event exactly as json.Unmarshal does into
// events.ALBTargetGroupRequest. The ALB sends one fixed shape, so a decoder
// that knows it reads the common event without reflection: on an inline
// read, encoding/json took longer than anything else in the adapter except
// base64 (BENCHMARKS.md). Anything the fast path does not handle itself (a
// field name in another case, a repeated field, a value of another type,
// escapes, a syntax error) goes to json.Unmarshal, so the result and the
// error are always encoding/json's; FuzzDecodeEvent holds the two to that.
func decodeEvent(data []byte, ev *events.ALBTargetGroupRequest) error {
	if fastDecodeEvent(data, ev) {
		return nil
	}
	*ev = events.ALBTargetGroupRequest{}
	return json.Unmarshal(data, ev)
}

// eventFields are the event's top-level fields, as encoding/json names
// them.
var eventFields = [...]string{"httpMethod", "path", "queryStringParameters", "multiValueQueryStringParameters",
	"headers", "multiValueHeaders", "requestContext", "isBase64Encoded", "body"}

// scanner reads JSON from a byte slice; ok turns false at the first thing
// it does not handle, after which every method is a no-op.
type scanner struct {
	b  []byte
	i  int
	ok bool
}

func fastDecodeEvent(data []byte, ev *events.ALBTargetGroupRequest) bool {
	s := scanner{b: data, ok: true}
	var seen [len(eventFields)]bool
	s.ws()
	if !s.byte('{') {
		return false
	}
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for s.ok {
			key, plain := s.str()
			if !s.ok || !plain {
				return false
			}
			s.ws()
			s.byte(':')
			s.ws()
			f := field(key)
			if f >= 0 {
				if seen[f] {
					return false // encoding/json merges repeated maps: leave it that
				}
				seen[f] = true
			}
			switch f {
			case 0:
				s.strInto(&ev.HTTPMethod)
			case 1:
				s.strInto(&ev.Path)
			case 2:
				ev.QueryStringParameters = s.strMap()
			case 3:
				ev.MultiValueQueryStringParameters = s.listMap()
			case 4:
				ev.Headers = s.strMap()
			case 5:
				ev.MultiValueHeaders = s.listMap()
			case 6:
				// {"elb":{"targetGroupArn":"..."}}; anything else in it is
				// encoding/json's to judge.
				s.object(func(k string) {
					if k != "elb" {
						s.ok = false
						return
					}
					s.object(func(k string) {
						if k != "targetGroupArn" {
							s.ok = false
							return
						}
						s.strInto(&ev.RequestContext.ELB.TargetGroupArn)
					})
				})
			case 7:
				switch {
				case s.lit("true"):
					ev.IsBase64Encoded = true
				case s.lit("false"):
					ev.IsBase64Encoded = false
				case s.lit("null"):
				default:
					return false
				}
			case 8:
				s.strInto(&ev.Body)
			default:
				if !plainKey(key) {
					return false // it may match a field case-insensitively
				}
				s.skip(0)
			}
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.byte('}')
			break
		}
	}
	s.ws()
	return s.ok && s.i == len(s.b)
}

// field is key's index in eventFields, or -1.
func field(key []byte) int {
	for i, f := range eventFields {
		if string(key) == f {
			return i
		}
	}
	return -1
}

// plainKey reports whether key can match no event field in any case
// (encoding/json matches field names case-insensitively).
func plainKey(key []byte) bool {
	for _, f := range eventFields {
		if len(f) == len(key) && equalFoldASCII(f, key) {
			return false
		}
	}
	// The Kelvin sign and the long s fold to k and s in encoding/json.
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func equalFoldASCII(a string, b []byte) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y || (x < 'a' || x > 'z') && a[i] != b[i] {
			return false
		}
	}
	return true
}

func (s *scanner) peek() byte {
	if !s.ok || s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.peek() != c {
		s.ok = false
		return false
	}
	s.i++
	return true
}

func (s *scanner) lit(l string) bool {
	if !s.ok || len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		return false
	}
	s.i += len(l)
	return true
}

// str reads a string token and returns its raw contents; plain is true
// when they need no decoding (no escape, valid UTF-8), and are then the
// string's value.
func (s *scanner) str() (raw []byte, plain bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	plain, ascii := true, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				plain = false
			}
			return raw, plain
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				s.ok = false
				return nil, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 || !hex4(s.b[s.i+1:s.i+5]) {
					s.ok = false
					return nil, false
				}
				s.i += 5
			default:
				s.ok = false
				return nil, false
			}
		case c < 0x20:
			s.ok = false
			return nil, false
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			s.i++
		}
	}
	s.ok = false
	return nil, false
}

func hex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// value reads a string value; one that needs decoding is decoded by
// encoding/json, token by token.
func (s *scanner) value() string {
	start := s.i
	raw, plain := s.str()
	if !s.ok {
		return ""
	}
	if plain {
		return string(raw)
	}
	var v string
	if json.Unmarshal(s.b[start:s.i], &v) != nil {
		s.ok = false
	}
	return v
}

// strInto reads a string or null into *dst; null leaves it, as
// encoding/json does.
func (s *scanner) strInto(dst *string) {
	if s.lit("null") {
		return
	}
	if s.peek() != '"' {
		s.ok = false
		return
	}
	*dst = s.value()
}

// object calls each for every key of an object, the scanner on its value.
// null calls nothing and reports false.
func (s *scanner) object(each func(key string)) bool {
	if s.lit("null") {
		return false
	}
	if !s.byte('{') {
		return false
	}
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for s.ok {
		if s.peek() != '"' {
			s.ok = false
			return false
		}
		key := s.value()
		s.ws()
		s.byte(':')
		s.ws()
		if !s.ok {
			return false
		}
		each(key)
		s.ws()
		if s.peek() == ',' {
			s.i++
			s.ws()
			continue
		}
		s.byte('}')
		break
	}
	return s.ok
}

func (s *scanner) strMap() map[string]string {
	m := map[string]string{}
	if !s.object(func(k string) {
		if s.lit("null") {
			m[k] = "" // a fresh element, left zero
			return
		}
		if s.peek() != '"' {
			s.ok = false
			return
		}
		m[k] = s.value()
	}) {
		return nil
	}
	return m
}

func (s *scanner) listMap() map[string][]string {
	m := map[string][]string{}
	if !s.object(func(k string) {
		if s.lit("null") {
			m[k] = nil
			return
		}
		if !s.byte('[') {
			return
		}
		s.ws()
		vs := []string{}
		if s.peek() == ']' {
			s.i++
			m[k] = vs
			return
		}
		for s.ok {
			if s.peek() != '"' {
				s.ok = false // null or another type: encoding/json's call
				return
			}
			vs = append(vs, s.value())
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.byte(']')
			break
		}
		m[k] = vs
	}) {
		return nil
	}
	return m
}

// skip passes over one JSON value of any kind, checking its syntax.
func (s *scanner) skip(depth int) {
	if depth > 64 {
		s.ok = false
		return
	}
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return
		}
		for s.ok {
			s.str()
			s.ws()
			s.byte(':')
			s.ws()
			s.skip(depth + 1)
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.byte('}')
			return
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return
		}
		for s.ok {
			s.skip(depth + 1)
			s.ws()
			if s.peek() == ',' {
				s.i++
				s.ws()
				continue
			}
			s.byte(']')
			return
		}
	case c == '-' || '0' <= c && c <= '9':
		s.number()
	default:
		if !s.lit("true") && !s.lit("false") && !s.lit("null") {
			s.ok = false
		}
	}
}

// number passes over -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		s.ok = false
		return
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			s.ok = false
			return
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			s.ok = false
		}
	}
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
