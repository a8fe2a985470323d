package h2

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// newRequest builds the request of a HEADERS frame opening st, or returns
// the stream error code of a malformed one (RFC 9113 8.1.1).
func (c *conn) newRequest(f *http2.MetaHeadersFrame, st *stream) (*http.Request, http2.ErrCode) {
	method := f.PseudoValue("method")
	path := f.PseudoValue("path")
	scheme := f.PseudoValue("scheme")
	authority := f.PseudoValue("authority")
	if method == "" || path == "" || scheme == "" || method == http.MethodConnect {
		return nil, http2.ErrCodeProtocol // CONNECT is not served
	}
	u, err := url.ParseRequestURI(path)
	if err != nil || (path[0] != '/' && !(path == "*" && method == http.MethodOptions)) {
		return nil, http2.ErrCodeProtocol
	}
	fields := f.RegularFields()
	header := make(http.Header, len(fields))
	var cookies []string
	for _, hf := range fields {
		switch hf.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return nil, http2.ErrCodeProtocol
		case "te":
			if hf.Value != "trailers" {
				return nil, http2.ErrCodeProtocol
			}
		case "cookie":
			cookies = append(cookies, hf.Value)
			continue
		}
		key := http.CanonicalHeaderKey(hf.Name)
		header[key] = append(header[key], hf.Value)
	}
	if len(cookies) > 0 {
		// Crumbs of a cookie header arrive as separate fields (RFC 9113 8.2.3).
		header.Set("Cookie", strings.Join(cookies, "; "))
	}
	if authority == "" {
		authority = header.Get("Host")
	}
	header.Del("Host")
	contentLength := int64(-1)
	if vv := header["Content-Length"]; len(vv) > 0 {
		if len(vv) > 1 {
			return nil, http2.ErrCodeProtocol
		}
		n, err := strconv.ParseUint(vv[0], 10, 63)
		if err != nil {
			return nil, http2.ErrCodeProtocol
		}
		contentLength = int64(n)
	}
	ctx, cancel := context.WithCancel(c.baseCtx)
	st.cancel = cancel
	req := &http.Request{
		Method: method, URL: u, RequestURI: path, Host: authority,
		Proto: "HTTP/2.0", ProtoMajor: 2, Header: header,
		RemoteAddr: c.remote, ContentLength: contentLength, TLS: c.tlsState,
	}
	if f.StreamEnded() {
		if contentLength > 0 {
			cancel()
			return nil, http2.ErrCodeProtocol
		}
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		st.declared = contentLength
		req.Body = requestBody{st}
	}
	return req.WithContext(ctx), http2.ErrCodeNo
}
