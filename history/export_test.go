package history

// ChannelCount reports how many channels the store keeps a ring for; the
// external tests use it to see what Sweep dropped.
func ChannelCount(m *Memory) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rings)
}
