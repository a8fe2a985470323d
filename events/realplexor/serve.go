package realplexor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// serve acts on a request from remote: a command or a publish. It returns
// the answer's body (status 200) or a *refusal. A refused login is logged
// at warn (without the password it sent).
func (s *Server) serve(ctx context.Context, r *inRequest, remote string) (string, error) {
	if why := s.cfg.Users.check(r.login, r.password, s.cfg.Guest); why != "" {
		s.cfg.Log.Warn("realplexor login refused", "login", r.login, "remote", remote, "reason", why)
		return "", refuse(http.StatusForbidden, "%s", why)
	}
	if name, args, ok := command(r.body); ok {
		switch name {
		case "online":
			return s.online(r, args)
		case "watch":
			return s.watch(r, args)
		}
		return "", refuse(http.StatusBadRequest, "command %q is not supported by Plexor: use online or watch", name)
	}
	if len(r.ids) == 0 {
		if word := firstWord(r.body); word != "" {
			return "", refuse(http.StatusBadRequest, "unknown command %q: use online [PREFIX ...] or watch POS [PREFIX ...]", word)
		}
		return "", refuse(http.StatusBadRequest, "nothing to publish to: X-Realplexor: identifier= names no ID to publish to (a *LIMITER only limits the audience), and the body is no command")
	}
	return s.publish(ctx, r)
}

// publish sends the body, a JSON text, to the request's own IDs.
func (s *Server) publish(ctx context.Context, r *inRequest) (string, error) {
	ids := r.ids
	if r.login != "" {
		ids = owned(r.login, ids)
		if len(ids) == 0 {
			return "", refuse(http.StatusForbidden, "login %s may only publish to IDs starting with %s_ and none of %s does",
				r.login, r.login, strings.Join(r.ids, ","))
		}
	}
	trimmed := bytes.TrimSpace(r.body)
	if len(trimmed) == 0 {
		return "", refuse(http.StatusBadRequest, "the body is empty: send the data as a JSON text (as the PHP client's json_encode does)")
	}
	var data bytes.Buffer
	if err := json.Compact(&data, trimmed); err != nil {
		return "", refuse(http.StatusBadRequest, "the body is not a JSON text (%v): send the data as JSON, as Realplexor's clients do", err)
	}
	if !utf8.Valid(data.Bytes()) {
		return "", refuse(http.StatusBadRequest, "the body's JSON holds bytes that are not UTF-8; send UTF-8")
	}
	if !s.allow(r.login) {
		return "", refuse(http.StatusTooManyRequests, "more than %g publishes per second for this login (PLEXOR_PUBLISH_RATE); slow down", s.cfg.Rate)
	}
	out, err := s.cfg.Hub.Publish(ctx, []history.Message{{Channels: ids, Data: data.Bytes(), OnlyFor: r.limiters}})
	if err != nil {
		s.cfg.Log.Warn("realplexor publish failed", "err", err)
		return "", publishFailure(err)
	}
	return strconv.FormatUint(out[0].ID, 10) + "\n", nil
}

// publishFailure is the answer to a publish the store failed. By
// history.Store's contract nothing was stored, unless the error wraps
// history.ErrOutcomeUnknown (Redis took the append but its answer was lost
// or late): then the message may be published, which the answer says, as
// POST /publish's 504 publish_outcome_unknown does.
func publishFailure(err error) *refusal {
	if errors.Is(err, history.ErrOutcomeUnknown) {
		return refuse(http.StatusGatewayTimeout, "Redis did not answer in time: the message may or may not have been published; "+
			"retry only if receiving it twice is harmless (the IN line takes no Idempotency-Key; POST /publish with one retries safely)")
	}
	return refuse(http.StatusServiceUnavailable, "the history store is unavailable; nothing was published, try again shortly")
}

// online answers "online [PREFIX ...]": each online ID and its number of
// listeners, "ID COUNT" a line, sorted by ID.
func (s *Server) online(r *inRequest, args []string) (string, error) {
	prefixes, none, err := s.prefixes(r.login, args)
	if err != nil || none {
		return "", err
	}
	var b strings.Builder
	for _, c := range s.cfg.Hub.Online(prefixes) {
		b.WriteString(c.Channel + " " + strconv.Itoa(c.Listeners) + "\n")
	}
	return b.String(), nil
}

// watch answers "watch POS [PREFIX ...]": the presence changes after POS,
// "online POS:ID" or "offline POS:ID" a line, oldest first. POS is an ID of
// Plexor's watch feed (its fraction, if any, is ignored); 0 asks for every
// change Plexor still has.
func (s *Server) watch(r *inRequest, args []string) (string, error) {
	if len(args) == 0 {
		return "", refuse(http.StatusBadRequest, "watch needs a position: watch POS [PREFIX ...] (0 for every change kept)")
	}
	whole, _, _ := strings.Cut(args[0], ".")
	pos, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || strings.Trim(args[0], "0123456789.") != "" {
		return "", refuse(http.StatusBadRequest, "watch position %q is not numeric", args[0])
	}
	prefixes, none, err := s.prefixes(r.login, args[1:])
	if err != nil || none {
		return "", err
	}
	changes, _ := s.cfg.Hub.Transitions(prefixes, pos)
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(change(c) + " " + strconv.FormatUint(c.ID, 10) + ":" + c.Channel + "\n")
	}
	return b.String(), nil
}

func change(t hub.Transition) string {
	if t.Online {
		return "online"
	}
	return "offline"
}

// prefixes checks a command's ID prefixes and, for a login, keeps only
// those of its own IDs (Realplexor's rule); none is true when a login
// keeps none (or gave none), which matches no ID.
func (s *Server) prefixes(login string, args []string) (prefixes []string, none bool, err error) {
	for _, p := range args {
		if !validID(p) {
			return nil, false, refuse(http.StatusBadRequest, "ID prefix %q is malformed: use 1-%d characters from A-Z a-z 0-9 _", p, maxIDLen)
		}
	}
	if login == "" {
		return args, false, nil
	}
	prefixes = owned(login, args)
	return prefixes, len(prefixes) == 0, nil
}

// owned keeps the IDs (or prefixes) starting with LOGIN_.
func owned(login string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, login+"_") {
			out = append(out, id)
		}
	}
	return out
}

// command recognises a command body: its first word is online, watch or
// stats (in any case) and ends the body or is followed by white space. It
// returns the command in lower case and the words after it on its line.
func command(body []byte) (name string, args []string, ok bool) {
	word := firstWord(body)
	name = strings.ToLower(word)
	if name != "online" && name != "watch" && name != "stats" {
		return "", nil, false
	}
	rest := bytes.TrimLeft(body, " \t\r\n")[len(word):]
	if len(rest) > 0 && !isSpace(rest[0]) {
		return "", nil, false
	}
	line, _, _ := bytes.Cut(rest, []byte{'\n'})
	return name, strings.Fields(string(line)), true
}

// firstWord returns the letters the body starts with (after white space),
// or "" when it starts with something else.
func firstWord(body []byte) string {
	body = bytes.TrimLeft(body, " \t\r\n")
	n := 0
	for n < len(body) && ('a' <= body[n] && body[n] <= 'z' || 'A' <= body[n] && body[n] <= 'Z') {
		n++
	}
	word := string(body[:n])
	if word == "true" || word == "false" || word == "null" {
		return "" // JSON literals, not commands
	}
	return word
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// errRefusal tells a refusal from other failures.
func asRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}
