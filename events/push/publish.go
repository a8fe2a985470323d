package push

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// maxContentType bounds the Content-Type a push publisher may give.
const maxContentType = 255

// Publish serves POST /push/pub?id=CHANNEL (behind the publisher
// token), the publisher side of the push module: the body, as it is, with
// its Content-Type, becomes one message of the channel (stored, and fanned
// out to every subscriber of the channel, push or not). It answers 201
// when the channel had subscribers, 202 when not, with the channel's info
// (once stored, always: when the store cannot be read then, with what is
// known, see infoAfter).
func (a *API) Publish(c echo.Context) error {
	req := c.Request()
	channel, err := a.publisherChannel(c)
	if err != nil {
		return err
	}
	contentType, err := parseContentType(req.Header.Values(echo.HeaderContentType))
	if err != nil {
		return err
	}
	body, err := events.ReadBody(req)
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return events.Errorf(http.StatusUnsupportedMediaType, "binary_body",
			"the body is not UTF-8 text: binary messages are not supported")
	}
	data, err := eventData(body)
	if err != nil {
		return err
	}
	published, err := a.hub.Publish(req.Context(), []history.Message{{Channels: []string{channel}, Data: data, ContentType: contentType}})
	if err != nil {
		return events.Unavailable(err)
	}
	status := http.StatusAccepted
	if n, _ := published[0].Subscribers.Of(channel); n > 0 {
		status = http.StatusCreated
	}
	info, _, err := a.gatherInfo(req.Context(), channel)
	if err != nil {
		// The message is stored: a 503 would have the publisher send it
		// again. Answer with what is known instead.
		a.log.Warn("push publish: the channel's info could not be read after the message was stored",
			"channel", channel, "id", published[0].ID, "err", err)
		info = a.infoAfter(channel, published[0].ID)
	}
	return answerInfo(c, status, info)
}

// infoAfter is a channel's info as known without asking the store,
// right after the message with event ID id was stored in it: its listeners
// and last request from this node, that message as the newest, and
// Messages 1 (at least that one; gatherInfo puts the store's count there).
func (a *API) infoAfter(channel string, id uint64) channelInfo {
	info := channelInfo{Messages: 1, Requested: -1, Subscribers: a.hub.Listeners(channel), LastMessageID: messageID(id)}
	if last, asked := a.requests.last(channel); asked {
		info.Requested = int64(max(a.requests.now().Sub(last), 0) / time.Second)
	}
	return info
}

// Info serves GET /push/pub?id=CHANNEL (behind the publisher token):
// the channel's info (see channelInfo), 404 for a channel without
// messages, subscribers or requests.
func (a *API) Info(c echo.Context) error {
	channel, err := a.publisherChannel(c)
	if err != nil {
		return err
	}
	info, exists, err := a.gatherInfo(c.Request().Context(), channel)
	if err != nil {
		return events.Unavailable(err)
	}
	if !exists {
		return errNoChannel(channel)
	}
	return answerInfo(c, http.StatusOK, info)
}

// Delete serves DELETE /push/pub?id=CHANNEL (behind the publisher
// token): the channel's stored messages are dropped (history.Store.Clear)
// and its subscribers on this node are let go (hub.CloseChannel): a waiting
// push subscriber gets 410 Gone, a feed ends and resumes. It answers the
// channel's info as it was, or 404 for a channel that does not exist.
func (a *API) Delete(c echo.Context) error {
	channel, err := a.publisherChannel(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	info, exists, err := a.gatherInfo(ctx, channel)
	if err != nil {
		return events.Unavailable(err)
	}
	if !exists {
		return errNoChannel(channel)
	}
	if err := a.hub.Store().Clear(ctx, channel); err != nil {
		return events.Unavailable(err)
	}
	a.hub.CloseChannel(channel, errChannelDeleted)
	a.requests.forget(channel)
	return answerInfo(c, http.StatusOK, info)
}

// publisherChannel reads ?id= and checks that the publisher's token may
// publish to it.
func (a *API) publisherChannel(c echo.Context) (string, error) {
	channel, err := parseChannel(c.QueryParams()["id"])
	if err != nil {
		return "", err
	}
	if a.cfg.AuthorizePublish != nil {
		if err := a.cfg.AuthorizePublish(c, []string{channel}); err != nil {
			return "", err
		}
	}
	return channel, nil
}

// parseContentType checks the publisher's Content-Type (none is kept as none).
func parseContentType(values []string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	ct := strings.TrimSpace(values[0])
	if len(values) > 1 || len(ct) > maxContentType {
		return "", events.Errorf(http.StatusBadRequest, "invalid_content_type",
			"give one Content-Type of at most %d bytes", maxContentType)
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "", events.Errorf(http.StatusBadRequest, "invalid_content_type",
			"Content-Type %s is not a media type: %v", wire.Quote(ct), err)
	}
	return ct, nil
}

// eventData stores a push publisher's body as the data of a Plexor event: a
// JSON string of its text, which an SSE subscriber of the channel receives
// as that text and messageBody turns back into the same bytes.
func eventData(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(body)); err != nil {
		return nil, fmt.Errorf("events: encoding a push body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// channelInfo is a channel's info as the push module and Nchan give it.
type channelInfo struct {
	// Messages is the number of messages stored for the channel.
	Messages int `json:"messages"`
	// Requested is how many seconds ago a push subscriber last asked for
	// the channel on this node; -1 for never.
	Requested int64 `json:"requested"`
	// Subscribers is the number of the channel's listeners (of any kind).
	Subscribers int `json:"subscribers"`
	// LastMessageID is the newest stored message's "second:place" (its
	// Last-Modified as Unix seconds, and its Etag); "" when none is stored.
	LastMessageID string `json:"last_message_id"`
}

// gatherInfo gathers a channel's info and whether the channel exists (has
// stored messages, subscribers, or a push subscriber asked for it).
func (a *API) gatherInfo(ctx context.Context, channel string) (channelInfo, bool, error) {
	stored, err := a.hub.Store().Info(ctx, channel)
	if err != nil {
		return channelInfo{}, false, err
	}
	info := a.infoAfter(channel, stored.Newest)
	info.Messages = stored.Retained
	return info, stored.Retained > 0 || info.Subscribers > 0 || info.Requested >= 0, nil
}

// answerInfo answers info as JSON when the client accepts JSON (and
// not plain text first), else as the push module's and Nchan's text.
func answerInfo(c echo.Context, status int, info channelInfo) error {
	if wantsJSON(c.Request().Header.Get(echo.HeaderAccept)) {
		return c.JSON(status, info)
	}
	text := fmt.Sprintf("queued messages: %d\nlast requested: %d sec. ago\nactive subscribers: %d\nlast message id: %s\n",
		info.Messages, info.Requested, info.Subscribers, info.LastMessageID)
	return c.String(status, text)
}

// wantsJSON reports whether an Accept header asks for JSON before
// plain text (a missing or wildcard Accept gets text).
func wantsJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.TrimSpace(mediaType)) {
		case "application/json", "text/json":
			return true
		case "text/plain", "text/*", "*/*":
			return false
		}
	}
	return false
}

// errNoChannel answers a request about a channel that does not exist.
func errNoChannel(channel string) error {
	return events.Errorf(http.StatusNotFound, "channel_not_found",
		"channel %s has no stored messages, no subscribers and was not asked for", wire.Quote(channel))
}
