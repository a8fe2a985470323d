package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// answerPublished answers a publish with each message's ID and subscriber
// count per channel: what c.JSON gives for publishResults(published) (its
// first result unless batch), written by hand when that is certain to be
// the same bytes, through encoding/json otherwise (an indented answer, or a
// name that needs escaping).
func answerPublished(c echo.Context, published []hub.Published, batch bool) error {
	if !prettyJSON(c) {
		bp := answerBuffers.Get().(*[]byte)
		b, ok := appendPublished((*bp)[:0], published, batch)
		if ok {
			err := c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b) // copied on its way out
			if cap(b) <= maxPooledAnswer {
				*bp = b
				answerBuffers.Put(bp)
			}
			return err
		}
		answerBuffers.Put(bp)
	}
	results := publishResults(published)
	if batch {
		return c.JSON(http.StatusOK, results)
	}
	return c.JSON(http.StatusOK, results[0])
}

// maxPooledAnswer is the largest answer buffer kept for reuse.
const maxPooledAnswer = 16 << 10

// answerBuffers holds buffers for answerPublished.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// prettyJSON reports whether c.JSON indents its answer: with ?pretty, or in
// Echo's debug mode.
func prettyJSON(c echo.Context) bool {
	if c.Echo().Debug {
		return true
	}
	if c.Request().URL.RawQuery == "" {
		return false // no query map is made for the common case
	}
	_, pretty := c.QueryParams()["pretty"]
	return pretty
}

// appendPublished appends what json.Encoder.Encode writes for
// publishResults(published) (its first result unless batch), newline
// included. It reports false, leaving the answer to encoding/json, when a
// channel name is not plain (see plainJSONString).
func appendPublished(b []byte, published []hub.Published, batch bool) ([]byte, bool) {
	if batch {
		b = append(b, '[')
	} else {
		published = published[:1]
	}
	for i, p := range published {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = wire.AppendID(b, p.ID)
		b = append(b, `","subscribers":`...)
		var ok bool
		if b, ok = appendCounts(b, p.Subscribers); !ok {
			return b, false
		}
		b = append(b, '}')
	}
	if batch {
		b = append(b, ']')
	}
	return append(b, '\n'), true
}

// appendCounts appends counts as encoding/json does with counts.Map(): null
// for no channels, else an object with the channels in sorted order.
func appendCounts(b []byte, counts hub.ChannelCounts) ([]byte, bool) {
	if counts.Channels == nil {
		return append(b, "null"...), true
	}
	var few [8]int
	order := few[:0]
	for i, name := range counts.Channels {
		if !plainJSONString(name) {
			return b, false
		}
		order = append(order, i)
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(counts.Channels[i], counts.Channels[j]) })
	b = append(b, '{')
	for k, i := range order {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, counts.Channels[i]...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, int64(counts.Counts[i]), 10)
	}
	return append(b, '}'), true
}

// plainJSONString reports whether encoding/json (escaping HTML, as
// json.Encoder does by default) writes s unchanged between quotes: printable
// ASCII without '"', '\\', '<', '>' and '&'. Every valid channel name is.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
