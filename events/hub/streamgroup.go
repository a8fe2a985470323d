package hub

import (
	"sync"
	"time"
)

// drainWait bounds how long a drain waits for the streams: a write in
// progress is cut short to LastWriteTimeout, then the goodbye gets as long.
const drainWait = 2*LastWriteTimeout + time.Second

// streamGroup is the set of a hub's live streams. Connections taken over
// from net/http are invisible to http.Server.Shutdown, so the hub's drain
// waits here until every stream has said goodbye.
type streamGroup struct {
	mu      sync.Mutex // guards members, closed and empty
	members map[*Stream]struct{}
	closed  bool          // a drain began: no new members
	empty   chan struct{} // made by the drain, closed when the last member left
}

// add makes s a member, unless a drain began already.
func (g *streamGroup) add(s *Stream) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if g.members == nil {
		g.members = make(map[*Stream]struct{})
	}
	g.members[s] = struct{}{}
	s.inGroup = true
	return true
}

// remove takes s out of the group.
func (g *streamGroup) remove(s *Stream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.members, s)
	if len(g.members) == 0 && g.empty != nil {
		close(g.empty)
		g.empty = nil
	}
}

// closeAndWait refuses new members, cuts every write in progress short and
// waits until the group is empty, or maxWait passed. The caller has closed
// the members' queues, so each of them is saying goodbye. It returns how
// many members were still there when it stopped waiting.
func (g *streamGroup) closeAndWait(maxWait time.Duration) (left int) {
	g.mu.Lock()
	g.closed = true
	if len(g.members) == 0 {
		g.mu.Unlock()
		return 0
	}
	empty := make(chan struct{})
	g.empty = empty
	deadline := time.Now().Add(LastWriteTimeout)
	for s := range g.members {
		s.cutShort(deadline)
	}
	g.mu.Unlock()
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-empty:
		return 0
	case <-timer.C:
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.members)
	}
}

// Streams returns how many live feeds the hub's drain would wait for (the
// streams adopted and not over yet).
func (h *Hub) Streams() int {
	h.streams.mu.Lock()
	defer h.streams.mu.Unlock()
	return len(h.streams.members)
}
