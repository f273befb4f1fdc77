package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Hub wakes in-process waiters when their jobs finish. One Hub per process
// holds one dedicated LISTEN connection and fans notifications out to any
// number of waiting requests. The same connection carries the chunks of
// streamed jobs to their waiters (Subscribe).
//
// NOTIFY is a hint, not the truth: notifications sent while the connection is
// down are lost. So on every (re)connect, and on a slow timer as a safety net,
// the hub asks the table which waited-for jobs are already finished.
type Hub struct {
	store   *Store
	connect func(ctx context.Context) (*pgx.Conn, error)
	log     *slog.Logger
	// Poll is the safety-net interval; the default is 5 s.
	Poll time.Duration

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	streams map[string]map[*Subscription]struct{} // see Subscribe
}

// NewHub makes a hub. connect must return a new connection for the hub's
// exclusive use: LISTEN belongs to a session, and a pooled connection would
// lose it when returned.
func NewHub(store *Store, connect func(ctx context.Context) (*pgx.Conn, error), log *slog.Logger) *Hub {
	return &Hub{store: store, connect: connect, log: log, Poll: 5 * time.Second, waiters: map[string]map[chan struct{}]struct{}{}}
}

// Run listens until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	l := &pgxlisten.Listener{
		Connect:        h.connect,
		ReconnectDelay: time.Second,
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				h.log.WarnContext(ctx, "job listener", "err", err)
			}
		},
	}
	l.Handle(Channel, hubHandler{h})
	l.Handle(StreamChannel, streamHandler{h})
	go h.pollLoop(ctx)
	err := l.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type hubHandler struct{ h *Hub }

func (hh hubHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	hh.h.wake(n.Payload)
	return nil
}

// HandleBacklog runs after every (re)connect, once LISTEN is in place, so no
// result can slip between the check and the listen.
func (hh hubHandler) HandleBacklog(ctx context.Context, _ string, _ *pgx.Conn) error {
	hh.h.recheck(ctx)
	return nil
}

func (h *Hub) pollLoop(ctx context.Context) {
	t := time.NewTicker(h.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.recheck(ctx)
		}
	}
}

func (h *Hub) recheck(ctx context.Context) {
	h.mu.Lock()
	ids := make([]string, 0, len(h.waiters))
	for id := range h.waiters {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	done, err := h.store.Finished(ctx, ids)
	if err != nil {
		h.log.WarnContext(ctx, "re-check waiting jobs", "waiting", len(ids), "err", err)
		return
	}
	for _, id := range done {
		h.wake(id)
	}
}

func (h *Hub) wake(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Wait blocks until job id is terminal, and returns it. It returns ctx's error
// if ctx ends first.
func (h *Hub) Wait(ctx context.Context, id string) (*Job, error) {
	ch, stop := h.watch(id)
	defer stop()
	// The job may have finished before we registered.
	ch <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
			j, err := h.store.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			if j.State.Terminal() {
				return j, nil
			}
		}
	}
}
