package jobs

// Watch signals on ended when job id may have reached a terminal state: a
// notification on Channel, or a re-check after a reconnect or on the safety
// timer that finds it finished. A worker watches the jobs it runs, so that
// one ended by another hand (its caller hung up) stops its call at once. Call
// stop when done; a signal for the watcher's own ending is harmless.
func (h *Hub) Watch(id string) (ended <-chan struct{}, stop func()) {
	return h.watch(id)
}

func (h *Hub) watch(id string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan struct{}]struct{}{}
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
