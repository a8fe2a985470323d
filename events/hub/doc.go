// Package hub is Plexor's delivery core: channels → subscriptions (a
// registry sharded by channel hash), each subscription's bounded queue of
// frames, the fan-out of a publish (each event encoded once per format),
// the streams that move queued frames to their clients (wake-ups on the
// publisher's goroutine, pacing of busy feeds, heartbeats, goodbyes), the
// drain at shutdown, presence counts and the watch log of online/offline
// transitions, and the hub's side of cluster mode (Deliver, CatchUp,
// remote listener counts).
//
// It speaks no HTTP and no Redis: events come from and go to a
// history.Store, and a stream writes to its client through a Sink, which a
// transport (events/transport) implements for a connection taken over from
// net/http or for a response writer. Its settings come in a Config.
//
// Files: config.go (the settings, their defaults, New), hub.go (the
// Hub, Subscribe, Publish, presence, drain),
// registry.go (the sharded registry), queue.go (a subscription's queue),
// frames.go (encode once, per format and channel subset), stream.go (a feed's writer), wake.go
// (who writes when), readahead.go (cache warming of a fan-out),
// streamgroup.go (what a drain waits for), watch.go (the watchers of
// presence transitions), hub_cluster.go (cluster mode), metrics.go
// (counters).
//
// Beneath it, knowing nothing of streams: events/hub/pace (holding busy
// feeds back to one write per interval) and events/hub/watch (the log of
// presence transitions and its ring).
package hub
