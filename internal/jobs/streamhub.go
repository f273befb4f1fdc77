package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Subscription hands one waiter the chunk notifications of one streamed job,
// from the Hub's LISTEN connection.
//
// Notifications are hints, as for finished jobs: one can be missing (sent
// while the listener was reconnecting, or dropped because the waiter fell
// behind). The waiter sees that as a gap in the sequence numbers, or as a
// signal on Resync, and reads the missing chunks from the table.
type Subscription struct {
	hub    *Hub
	id     string
	notes  chan ChunkNote
	resync chan struct{}
}

// subscriptionBuffer is how many notifications a slow waiter may fall behind
// before they are dropped (and it is told to resync).
const subscriptionBuffer = 256

// Subscribe starts delivering job id's chunk notifications. Close it when done.
func (h *Hub) Subscribe(id string) *Subscription {
	s := &Subscription{hub: h, id: id, notes: make(chan ChunkNote, subscriptionBuffer), resync: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams == nil {
		h.streams = map[string]map[*Subscription]struct{}{}
	}
	if h.streams[id] == nil {
		h.streams[id] = map[*Subscription]struct{}{}
	}
	h.streams[id][s] = struct{}{}
	return s
}

// Notes are the job's chunk notifications in the order they were sent.
func (s *Subscription) Notes() <-chan ChunkNote { return s.notes }

// Resync signals that notifications may have been lost.
func (s *Subscription) Resync() <-chan struct{} { return s.resync }

// Close stops the deliveries.
func (s *Subscription) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.streams[s.id], s)
	if len(h.streams[s.id]) == 0 {
		delete(h.streams, s.id)
	}
}

func (s *Subscription) signalResync() {
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// deliver hands a note to the job's waiters without blocking the listener:
// a waiter whose buffer is full loses the note and is told to resync.
func (h *Hub) deliver(n ChunkNote) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.streams[n.JobID] {
		select {
		case s.notes <- n:
		default:
			s.signalResync()
		}
	}
}

func (h *Hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.streams {
		for s := range subs {
			s.signalResync()
		}
	}
}

type streamHandler struct{ h *Hub }

func (sh streamHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	note, err := ParseChunkNote(n.Payload)
	if err != nil {
		return err
	}
	sh.h.deliver(note)
	return nil
}

// HandleBacklog runs after every (re)connect: notifications sent while the
// connection was down are lost, so every waiter re-reads the table.
func (sh streamHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	sh.h.resyncAll()
	return nil
}
