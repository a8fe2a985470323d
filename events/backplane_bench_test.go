package events

import (
	"github.com/plexor/plexor/events/hub"

	"strconv"
	"testing"

	"github.com/plexor/plexor/history"
)

// BenchmarkBackplaneEvent is what a node spends on one event announced by the
// backplane: decoding the announcement and handing it to the hub, for an
// event nobody on the node listens to (the price of one fan-out channel for
// the whole deployment) and for one with 100 local listeners.
func BenchmarkBackplaneEvent(b *testing.B) {
	for _, listeners := range []int{0, 100} {
		b.Run("listeners="+strconv.Itoa(listeners), func(b *testing.B) {
			h, _ := relayedHub(b, 10)
			if err := h.CatchUp(b.Context(), 1); err != nil {
				b.Fatal(err)
			}
			subs := make([]*hub.Subscription, listeners)
			for i := range subs {
				subs[i], _ = hqSubscribe(b, h, []string{"room"}, false)
			}
			other := "elsewhere"
			if listeners > 0 {
				other = "room"
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				payload := []byte(strconv.Itoa(2+i) + "\n{\"c\":[\"" + other + "\"]}\n\"hello\"")
				ev, err := history.DecodeFanout(payload)
				if err != nil {
					b.Fatal(err)
				}
				h.Deliver(ev)
				if i%64 == 0 {
					for _, s := range subs {
						_, _ = s.Take()
					}
				}
			}
		})
	}
}
