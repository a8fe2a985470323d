package history

// ChannelCount reports how many channels the store keeps a ring for; the
// external tests use it to see what Sweep dropped.
func ChannelCount(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rings)
}

// HeldCount reports how many events the store's ring of ch holds, as they
// are, without expiring any (Info expires by the clock first): the external
// tests use it to see what an append expired.
func HeldCount(m *Memory, ch string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.rings[ch]; r != nil {
		return r.n
	}
	return 0
}
