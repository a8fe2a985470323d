package load

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Kind names the kind of server under test: it fixes the URLs and the
// request formats.
type Kind string

// The servers the tool can drive.
const (
	// Plexor: GET /events?channels=a,b (raw frames); POST /publish with a
	// bearer token and a JSON body {"channels":["a"],"data":"…"}.
	Plexor Kind = "plexor"
	// Nchan: an EventSource subscriber location GET /sub?ch=a,b (channel ids
	// split on ","), a publisher location POST /pub?ch=a with the data as
	// the body. bench/nchan.sh writes such a configuration.
	Nchan Kind = "nchan"
)

// Target is the server under test, reached over loopback only.
type Target struct {
	Kind Kind
	// Addr is the host:port to dial.
	Addr string
	// Host is the Host header of every request.
	Host string
	// Path is the base path the endpoints are under ("" or "/prefix").
	Path string
	// Token is Plexor's publisher token.
	Token string
	// TLS: the URL is https (the certificate is not verified: the target is
	// on loopback, its certificate a throw-away one).
	TLS bool
}

// ParseTarget checks a base URL (http or https, a loopback host:
// 127.0.0.0/8, ::1 or localhost) and the kind, and returns the target.
func ParseTarget(kind, rawURL, token string) (Target, error) {
	k := Kind(kind)
	if k != Plexor && k != Nchan {
		return Target{}, fmt.Errorf("target %q: want plexor or nchan", kind)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, fmt.Errorf("url %q: want an http or https URL such as http://127.0.0.1:8080", rawURL)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return Target{}, fmt.Errorf("url %q: the load tool only drives loopback servers (127.0.0.0/8, ::1, localhost)", rawURL)
	}
	if k == Plexor && token == "" {
		return Target{}, fmt.Errorf("a publisher token is required for plexor (--token or PLEXOR_TOKEN)")
	}
	return Target{Kind: k, Addr: net.JoinHostPort(host, port), Host: u.Host, Path: strings.TrimRight(u.Path, "/"), Token: token, TLS: u.Scheme == "https"}, nil
}

// feedPath returns the path and query of a feed of the channels.
func (t Target) feedPath(channels []string) string {
	endpoint := "/events?channels="
	if t.Kind == Nchan {
		endpoint = "/sub?ch="
	}
	return t.Path + endpoint + strings.Join(channels, ",")
}

// subscribeRequest returns the GET request of a feed of the channels.
func (t Target) subscribeRequest(channels []string) []byte {
	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(t.feedPath(channels))
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(t.Host)
	b.WriteString("\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n")
	return []byte(b.String())
}

// appendPublishRequest appends a keep-alive POST that publishes data (which
// needs no JSON escaping: digits, spaces and 'x') to one channel.
func (t Target) appendPublishRequest(dst []byte, channel string, data []byte) []byte {
	switch t.Kind {
	case Nchan:
		dst = append(dst, "POST "...)
		dst = append(dst, t.Path...)
		dst = append(dst, "/pub?ch="...)
		dst = append(dst, channel...)
		dst = append(dst, " HTTP/1.1\r\nHost: "...)
		dst = append(dst, t.Host...)
		dst = append(dst, "\r\nContent-Type: text/plain\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(data)), 10)
		dst = append(dst, "\r\n\r\n"...)
		return append(dst, data...)
	default:
		// {"channels":["CH"],"data":"DATA"}
		n := len(`{"channels":[""],"data":""}`) + len(channel) + len(data)
		dst = append(dst, "POST "...)
		dst = append(dst, t.Path...)
		dst = append(dst, "/publish HTTP/1.1\r\nHost: "...)
		dst = append(dst, t.Host...)
		dst = append(dst, "\r\nAuthorization: Bearer "...)
		dst = append(dst, t.Token...)
		dst = append(dst, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, "\r\n\r\n"...)
		dst = append(dst, `{"channels":["`...)
		dst = append(dst, channel...)
		dst = append(dst, `"],"data":"`...)
		dst = append(dst, data...)
		return append(dst, `"}`...)
	}
}
