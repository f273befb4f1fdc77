package jobs

// Watch delivers job id on ended once it is found terminal: after a
// notification on Channel, or a re-check after a reconnect or on the safety
// timer. A worker watches the jobs it runs, so that one ended by another hand
// (its caller hung up) stops its call at once. Call stop when done; a
// delivery of the watcher's own ending is harmless.
func (h *Hub) Watch(id string) (ended <-chan *Job, stop func()) {
	ch := make(chan *Job, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan *Job]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
	}
}
