package hub

// CloseChannel closes the queue of every local subscription of channel with
// err (a protocol's reason, e.g. the channel was deleted): a long-poll
// waiting on it sees err from Take, a feed delivers what is queued and ends
// with its goodbye, and the client resumes with its cursor. Subscriptions
// of other nodes are not reached.
func (h *Hub) CloseChannel(channel string, err error) {
	h.closeChannels([]string{channel}, err)
}
