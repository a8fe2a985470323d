package realplexor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// maxHeadBytes bounds the request line and headers of one request.
const maxHeadBytes = 64 << 10

// maxIDLen is the longest accepted ID: Plexor's longest channel name.
const maxIDLen = 128

// inRequest is one parsed IN-line request.
type inRequest struct {
	login, password string   // empty without a login
	ids             []string // the IDs to publish to, distinct, in order
	limiters        []string // the *IDs: the message's audience limit
	body            []byte
}

// refusal is a request the server answers with status and reason instead
// of acting on it.
type refusal struct {
	status int
	reason string
}

func (r *refusal) Error() string { return r.reason }

func refuse(status int, format string, args ...any) *refusal {
	return &refusal{status: status, reason: fmt.Sprintf(format, args...)}
}

// identifierPattern is the X-Realplexor header's value:
// identifier=[LOGIN:PASSWORD@]LIST (Realplexor's own grammar).
var identifierPattern = regexp.MustCompile(`^identifier=(?:(\w+):([^@\s]+)@)?([*\w,.:]*)$`)

// itemPattern is one item of LIST: [*][CURSOR:]ID.
var itemPattern = regexp.MustCompile(`^(\*?)(?:(\d+(?:\.\d+)?):)?(\w+)$`)

// readRequest reads one request from br (which reads at most head bytes of
// the head; lim is raised for the body) and checks its form and limits.
func readRequest(br *bufio.Reader, lim *io.LimitedReader, maxBody int64, maxChannels int) (*inRequest, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		if isTimeout(err) {
			return nil, timedOut
		}
		if lim.N <= 0 {
			return nil, refuse(http.StatusRequestHeaderFieldsTooLarge, "the request head is longer than %d bytes", maxHeadBytes)
		}
		return nil, refuse(http.StatusBadRequest, "malformed request: %v; send POST / HTTP/1.1 with Content-Length and X-Realplexor: identifier=IDS", err)
	}
	if req.Method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, "method %s is not accepted: the IN line takes POST", req.Method)
	}
	values := req.Header.Values("X-Realplexor")
	if len(values) != 1 {
		return nil, refuse(http.StatusBadRequest, "the request needs exactly one X-Realplexor: identifier=[LOGIN:PASSWORD@]IDS header, got %d", len(values))
	}
	r, err := parseIdentifier(strings.TrimSpace(values[0]), maxChannels)
	if err != nil {
		return nil, err
	}
	if req.ContentLength > maxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body of %d bytes is larger than the limit of %d (PLEXOR_MAX_PUBLISH_BYTES)", req.ContentLength, maxBody)
	}
	lim.N = maxBody + int64(br.Buffered()) + 1
	var body io.Reader = req.Body
	if req.Header.Get("Content-Length") == "" && len(req.TransferEncoding) == 0 {
		body = br // no length: the body ends where the client shuts down its side
	}
	r.body, err = io.ReadAll(io.LimitReader(body, maxBody+1))
	switch {
	case isTimeout(err):
		return nil, timedOut
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, refuse(http.StatusBadRequest, "the body ended after %d of the %d bytes of Content-Length", len(r.body), req.ContentLength)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "the body cannot be read: %v", err)
	case int64(len(r.body)) > maxBody:
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body is larger than the limit of %d bytes (PLEXOR_MAX_PUBLISH_BYTES)", maxBody)
	}
	return r, nil
}

// timedOut answers a client that did not send its request in time.
var timedOut = refuse(http.StatusRequestTimeout, "the request did not arrive in time (PLEXOR_BODY_TIMEOUT); send it whole, then shut down the writing side")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// parseIdentifier reads the X-Realplexor header's value.
func parseIdentifier(value string, maxChannels int) (*inRequest, error) {
	m := identifierPattern.FindStringSubmatch(value)
	if m == nil {
		return nil, refuse(http.StatusBadRequest, "X-Realplexor %q is malformed: use identifier=[LOGIN:PASSWORD@]LIST, LIST being comma-separated ID, CURSOR:ID or *ID", value)
	}
	r := &inRequest{login: m[1], password: m[2]}
	for item := range strings.SplitSeq(m[3], ",") {
		if item == "" {
			continue
		}
		im := itemPattern.FindStringSubmatch(item)
		if im == nil || len(im[3]) > maxIDLen {
			return nil, refuse(http.StatusBadRequest, "identifier item %q is malformed: use ID, CURSOR:ID or *ID, an ID being 1-%d characters from A-Z a-z 0-9 _", item, maxIDLen)
		}
		list := &r.ids
		if im[1] == "*" {
			list = &r.limiters
		}
		if !slices.Contains(*list, im[3]) {
			*list = append(*list, im[3])
		}
	}
	if len(r.ids) > maxChannels || len(r.limiters) > maxChannels {
		return nil, refuse(http.StatusBadRequest, "at most %d IDs and %d limiter IDs per message (PLEXOR_MAX_CHANNELS), got %d and %d",
			maxChannels, maxChannels, len(r.ids), len(r.limiters))
	}
	return r, nil
}

// validID reports whether id is 1-128 word characters (Realplexor's \w+
// in ASCII), which is also a valid Plexor channel name.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
