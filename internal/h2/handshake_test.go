package h2

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// protoHandler answers with the request's protocol and its body.
func protoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s tls=%v body=%q", r.Proto, r.Method, r.URL.Path, r.TLS != nil, body)
	})
}

func TestHandshakeSettings(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, &Server{MaxConcurrentStreams: 7, MaxHeaderBytes: 8 << 10}, protoHandler(), useTLS)
			c := dial(t, ts, dialOptions{noHandshake: true})
			c.preface()
			f, err := c.next(waitFor)
			if err != nil {
				t.Fatal(err)
			}
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				t.Fatalf("first frame: got %v, want the server's SETTINGS", f.Header())
			}
			want := map[http2.SettingID]uint32{
				http2.SettingHeaderTableSize:      0,
				http2.SettingMaxConcurrentStreams: 7,
				http2.SettingInitialWindowSize:    streamRecvWindow,
				http2.SettingMaxHeaderListSize:    8 << 10,
			}
			for id, v := range want {
				if got, ok := c.settings[id]; !ok || got != v {
					t.Errorf("setting %v: got %d (sent: %v), want %d", id, got, ok, v)
				}
			}
			c.until("the acknowledgement of the client's SETTINGS", func() bool { return c.settingsAcks == 1 })
			if got, want := c.connWindow, int64(connRecvWindow); got != want {
				t.Errorf("connection window after the handshake: got %d, want %d", got, want)
			}
			c.request(1, "GET", "/x", true)
			if s := c.response(1); s.status != "200" || !strings.HasPrefix(s.body.String(), "HTTP/2.0 GET /x tls="+fmt.Sprint(useTLS)) {
				t.Errorf("response: got %s %q, want 200 HTTP/2.0 GET /x", s.status, s.body.String())
			}
		})
	}
}

func TestHandshakeFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tls    bool
		send   func(c *rawClient)
		goAway bool // a GOAWAY PROTOCOL_ERROR comes before the close
		// timesOut: the connection ends at the read-header timeout (300
		// ms); the others are to end at once, long before it (a minute).
		timesOut bool
	}{
		{name: "bad preface over TLS", tls: true, send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"))
		}},
		{name: "first frame not SETTINGS", send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte(http2.ClientPreface))
			c.ping([8]byte{1})
		}, goAway: true},
		{name: "first frame not SETTINGS over TLS", tls: true, send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte(http2.ClientPreface))
			c.ping([8]byte{1})
		}, goAway: true},
		{name: "no SETTINGS after the preface", timesOut: true, send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte(http2.ClientPreface))
		}},
		{name: "no SETTINGS after the preface over TLS", tls: true, timesOut: true, send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte(http2.ClientPreface))
		}},
		{name: "nothing after the TLS handshake", tls: true, timesOut: true, send: func(*rawClient) {}},
		{name: "half a preface", timesOut: true, send: func(c *rawClient) {
			_, _ = c.nc.Write([]byte(http2.ClientPreface[:10]))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := time.Minute
			if tt.timesOut {
				timeout = 300 * time.Millisecond
			}
			ts := startServer(t, &Server{ReadHeaderTimeout: timeout}, protoHandler(), tt.tls)
			start := time.Now() // the server's timer starts within the dial (TLS)
			c := dial(t, ts, dialOptions{noHandshake: true})
			tt.send(c)
			c.waitClosed()
			if tt.goAway {
				if c.goAway == nil || c.goAway.code != http2.ErrCodeProtocol {
					t.Errorf("GOAWAY: got %+v, want one with PROTOCOL_ERROR", c.goAway)
				}
			} else if c.goAway != nil {
				t.Errorf("GOAWAY: got %+v, want none", c.goAway)
			}
			took := time.Since(start)
			if took > 3*time.Second {
				t.Errorf("closed after %v, want within 3 s", took)
			}
			if tt.timesOut && took < 250*time.Millisecond {
				t.Errorf("closed after %v, want at the read-header timeout (300 ms)", took)
			}
			waitUntil(t, "forgotten by the server", func() bool { return ts.srv.Conns() == 0 })
		})
	}
}

// slowConn writes each Write one byte at a time with a pause between.
type slowConn struct {
	net.Conn
	pause time.Duration
}

func (s slowConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := s.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(s.pause)
	}
	return len(p), nil
}

func TestH2CSniffingHandsHTTP1Over(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &Server{}, protoHandler(), false)
	tests := []struct {
		name     string
		request  string
		byteWise bool
		want     string
	}{
		{name: "GET", request: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", want: `HTTP/1.1 GET /a tls=false body=""`},
		{name: "PUT byte by byte (shares the preface's first byte)", byteWise: true,
			request: "PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", want: `HTTP/1.1 PUT /b tls=false body="hello"`},
		{name: "POST byte by byte", byteWise: true,
			request: "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", want: `HTTP/1.1 POST /c tls=false body="abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(waitFor))
			var w io.Writer = nc
			if tt.byteWise {
				w = slowConn{Conn: nc, pause: time.Millisecond}
			}
			if _, err := io.WriteString(w, tt.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != tt.want {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestTLSALPNSorting(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &Server{}, protoHandler(), true)
	tests := []struct {
		name  string
		http1 bool
		want  string
	}{
		{name: "h2", want: `HTTP/2.0 POST /p tls=true body="up"`},
		{name: "http/1.1", http1: true, want: `HTTP/1.1 POST /p tls=true body="up"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := ts.httpClient(tt.http1).Post(ts.url("/p"), "text/plain", strings.NewReader("up"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tt.want {
				t.Errorf("got %q, want %q", body, tt.want)
			}
		})
	}
	t.Run("no ALPN", func(t *testing.T) {
		t.Parallel()
		conf := ts.client.Clone()
		tc, err := tls.Dial("tcp", ts.addr, conf)
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		_ = tc.SetDeadline(time.Now().Add(waitFor))
		fmt.Fprintf(tc, "GET /n HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if want := `HTTP/1.1 GET /n tls=true body=""`; string(body) != want {
			t.Errorf("got %q, want %q", body, want)
		}
	})
	t.Run("cleartext request to the TLS port", func(t *testing.T) {
		t.Parallel()
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(waitFor))
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("got %d, want 400", resp.StatusCode)
		}
	})
}
