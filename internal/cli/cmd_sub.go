package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	backoff "gopkg.in/cenkalti/backoff.v1"

	"github.com/plexor/plexor/events/wire"
)

// maxEventBytes bounds one event the subscriber accepts.
const maxEventBytes = 64 << 20

// cmdSub subscribes to channels and prints every event on stdout until ctx
// ends (SIGINT). It reconnects by itself and resumes after the last event.
func cmdSub(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("sub", "[flags] channel…",
		"Subscribe to the channels (names, or comma-separated lists) and print every\n"+
			"event, until interrupted. When the stream ends or fails, reconnect with\n"+
			"backoff and resume after the last event received (Last-Event-ID), so nothing\n"+
			"is missed or repeated while the service's history covers the gap; if it\n"+
			"does not, a notice goes to stderr. Connection notices go to stderr.", sio)
	base := fs.String("url", defaultURL(sio.Env), "the service's base URL (PLEXOR_URL when set)")
	lastID := fs.String("last-event-id", "", "resume after this event ID instead of starting with new events")
	token := fs.String("token", "", "subscriber token for private channels, sent as Authorization: Bearer\n(default: PLEXOR_SUBSCRIBE_TOKEN)")
	format := fs.String("format", "raw", "raw: print each event's data (its text as published) and a newline;\n"+
		"envelope: print each event as one JSON line {id, channels, type, data}")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(fs, "name at least one channel")
	}
	if *token == "" {
		*token = sio.Env["PLEXOR_SUBSCRIBE_TOKEN"]
	}
	if *format != "raw" && *format != "envelope" {
		return usageError(fs, "--format must be raw or envelope, got %q", *format)
	}
	query := url.Values{"channels": {strings.Join(fs.Args(), ",")}}
	if *format == "envelope" {
		query.Set("format", "envelope")
	}
	feed, err := endpoint(*base, "/events", query)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	f := &follower{url: feed, token: *token, lastID: *lastID, out: sio.Out, log: sio.Err}
	if err := f.run(ctx); err != nil {
		fmt.Fprintln(sio.Err, "plexor sub:", err)
		return ExitFailure
	}
	return ExitOK
}

// follower keeps one feed open: it connects, prints events, and reconnects
// after the last event it printed, until its context ends.
type follower struct {
	url      string
	token    string // subscriber token, sent in a header (never in the URL, which is logged)
	lastID   string // the ID of the last event printed (sent as Last-Event-ID)
	out, log io.Writer

	// retryHint is the service's last "retry:" hint; reconnects wait at
	// least this long.
	retryHint time.Duration
	// maxEvent bounds one event (0: maxEventBytes).
	maxEvent int
}

// run follows the feed until ctx ends (then it returns nil) or the service
// refuses the subscription with a 4xx (then it returns that error). Each
// connection is one request read by wire.Parser; reconnecting here keeps
// control of the cursor and of the waits, and never gives up.
func (f *follower) run(ctx context.Context) error {
	wait := backoff.NewExponentialBackOff()
	wait.InitialInterval = 250 * time.Millisecond
	wait.MaxInterval = 30 * time.Second
	wait.MaxElapsedTime = 0 // never stop
	for {
		connected, err := f.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		if connected {
			wait.Reset()
		}
		delay := max(wait.NextBackOff(), f.retryHint)
		reason := "the stream ended"
		if err != nil {
			reason = err.Error()
		}
		fmt.Fprintf(f.log, "plexor sub: %s; reconnecting in %s%s\n", reason, delay.Round(time.Millisecond), f.resumeNote())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// fatalError is a failure that reconnecting cannot cure: the service
// refused the subscription (4xx), or the output cannot be written.
type fatalError struct{ err error }

// Error implements error.
func (e *fatalError) Error() string { return e.err.Error() }

// once runs one connection until its stream ends or fails. It reports
// whether the service accepted it (the first bytes of its stream arrived).
// The stream is read by wire.Parser, which dispatches an event only at its
// blank line: a stream cut in the middle of an event prints nothing of it,
// and the resume (after the last complete event) fetches it whole.
func (f *follower) once(ctx context.Context) (connected bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return false, &fatalError{err}
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	if f.lastID != "" {
		req.Header.Set("Last-Event-ID", f.lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		refused := responseError(resp)
		if refused.Status < 500 {
			return false, &fatalError{refused}
		}
		return false, refused
	}

	var printErr error
	p := wire.NewParser(f.lastID)
	p.OnRetry = func(ms int64) { f.retryHint = time.Duration(ms) * time.Millisecond }
	p.OnEvent = func(ev *wire.Event) {
		switch {
		case printErr != nil:
		case string(ev.Type) == "reset":
			fmt.Fprintf(f.log, "plexor sub: reset: the service no longer keeps every event since the cursor (%s); some were missed\n", ev.Data)
		default:
			_, printErr = fmt.Fprintf(f.out, "%s\n", ev.Data)
		}
	}
	bound := eventBound{max: cmp.Or(f.maxEvent, maxEventBytes)}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 && !connected {
			connected = true
			fmt.Fprintf(f.log, "plexor sub: subscribed to %s%s\n", f.url, f.resumeNote())
		}
		p.Feed(buf[:n])
		if printErr != nil {
			return connected, &fatalError{fmt.Errorf("writing the output: %w", printErr)}
		}
		if id := p.LastID(); len(id) > 0 {
			f.lastID = string(id) // the last ID of a complete block, an id-only one too
		}
		switch {
		case bound.add(buf[:n]):
			return connected, errEventTooLarge
		case rerr == io.EOF:
			return connected, nil
		case rerr != nil:
			return connected, rerr
		}
	}
}

// resumeNote says from where the next connection resumes.
func (f *follower) resumeNote() string {
	if f.lastID == "" {
		return ""
	}
	return " (after event " + f.lastID + ")"
}
