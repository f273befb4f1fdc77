package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
//
// Waiters cost no pool round trip of their own: a new waiter's id and every
// notified id go into one set, and a single reader turns the whole set into
// one query for the finished jobs among them (without their requests), then
// hands each job to its waiters. With ten thousand callers arriving at once
// that is a handful of queries instead of ten thousand queued on the pool.
type Hub struct {
	store   *Store
	connect func(ctx context.Context) (*pgx.Conn, error)
	log     *slog.Logger
	// Poll is the safety-net interval; the default is 5 s.
	Poll time.Duration

	mu      sync.Mutex
	waiters map[string]map[chan *Job]struct{}
	streams map[string]map[*Subscription]struct{} // see Subscribe
	// pending are the ids the reader is to look up; kick wakes it.
	pending map[string]struct{}
	kick    chan struct{}
	running atomic.Bool
	// peak is the most goroutines since memory was last handed back (trim).
	peak int
}

// readBatch bounds the ids of one look-up query.
const readBatch = 2000

// NewHub makes a hub. connect must return a new connection for the hub's
// exclusive use: LISTEN belongs to a session, and a pooled connection would
// lose it when returned.
func NewHub(store *Store, connect func(ctx context.Context) (*pgx.Conn, error), log *slog.Logger) *Hub {
	return &Hub{store: store, connect: connect, log: log, Poll: 5 * time.Second,
		waiters: map[string]map[chan *Job]struct{}{}, pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}
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
	h.running.Store(true)
	defer h.running.Store(false)
	go h.pollLoop(ctx)
	go h.readLoop(ctx)
	err := l.Listen(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type hubHandler struct{ h *Hub }

func (hh hubHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	hh.h.check(n.Payload)
	return nil
}

// HandleBacklog runs after every (re)connect, once LISTEN is in place, so no
// result can slip between the check and the listen.
func (hh hubHandler) HandleBacklog(ctx context.Context, _ string, _ *pgx.Conn) error {
	hh.h.recheck()
	return nil
}

func (h *Hub) pollLoop(ctx context.Context) {
	t := time.NewTicker(h.Poll)
	defer t.Stop()
	trim := time.NewTicker(time.Second)
	defer trim.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.recheck()
		case <-trim.C:
			h.trim()
		}
	}
}

// recheck queues every waited-for job for a look-up.
func (h *Hub) recheck() {
	h.mu.Lock()
	for id := range h.waiters {
		h.pending[id] = struct{}{}
	}
	h.mu.Unlock()
	h.wakeReader()
}

// check queues job id for a look-up if anyone waits for it.
func (h *Hub) check(id string) {
	h.mu.Lock()
	_, waited := h.waiters[id]
	if waited {
		h.pending[id] = struct{}{}
	}
	h.mu.Unlock()
	if waited {
		h.wakeReader()
	}
}

func (h *Hub) wakeReader() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// readLoop looks up the pending ids, a batch at a time, and delivers the
// finished jobs. Ids that arrive while a query runs form the next batch.
func (h *Hub) readLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		for {
			h.mu.Lock()
			ids := make([]string, 0, min(len(h.pending), readBatch))
			for id := range h.pending {
				if len(ids) == readBatch {
					break
				}
				ids = append(ids, id)
				delete(h.pending, id)
			}
			more := len(h.pending) > 0
			h.mu.Unlock()
			if len(ids) > 0 {
				h.read(ctx, ids)
			}
			if !more || ctx.Err() != nil {
				break
			}
		}
	}
}

func (h *Hub) read(ctx context.Context, ids []string) {
	done, err := h.store.finishedJobs(ctx, ids)
	if err != nil {
		if ctx.Err() == nil {
			// The ids stay waited for: the next poll (or notification) retries.
			h.log.WarnContext(ctx, "read finished jobs", "ids", len(ids), "err", err)
		}
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, j := range done {
		for ch := range h.waiters[j.ID] {
			select {
			case ch <- j:
			default:
			}
		}
	}
}

// trim hands memory back to the OS once a crowd of waiters has gone: the
// runtime would keep it (goroutine stacks, connection buffers) until its
// scavenger got round to it, minutes later. The crowd is measured in
// goroutines, not waiters: a waiter's connection outlives its Wait.
func (h *Hub) trim() {
	n := runtime.NumGoroutine()
	h.mu.Lock()
	h.peak = max(h.peak, n)
	release := h.peak >= 2000 && n < h.peak/4
	if release {
		h.peak = n
	}
	h.mu.Unlock()
	if release {
		// Two collections: the first moves what the connections returned to
		// sync.Pools (net/http's buffers) into the pools' victim caches, the
		// second frees it; then the pages go back to the OS.
		runtime.GC()
		debug.FreeOSMemory()
	}
}

// Wait blocks until job id is terminal, and returns it (without its
// request, which the caller sent). It returns ctx's error if ctx ends first.
func (h *Hub) Wait(ctx context.Context, id string) (*Job, error) {
	ch, stop := h.Watch(id)
	defer stop()
	// The job may have finished before we registered: the reader looks, or,
	// if the hub is not running, we do.
	if h.running.Load() {
		h.check(id)
	} else if j, err := h.store.Get(ctx, id); err != nil {
		return nil, err
	} else if j.State.Terminal() {
		return j, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case j := <-ch:
		return j, nil
	}
}

// waitColumns are the job's columns without its request: a waiter has no
// use for it, and with many waiters it would be most of their memory.
var waitColumns = strings.Replace(columns, "request,", "NULL::jsonb AS request,", 1)

// finishedJobs returns the terminal jobs among ids, without their requests.
func (s *Store) finishedJobs(ctx context.Context, ids []string) ([]*Job, error) {
	js, err := all(s.pool.Query(ctx, `SELECT `+waitColumns+` FROM jobs WHERE id = ANY($1) AND state IN ('succeeded', 'failed', 'cancelled', 'expired')`, ids))
	if err != nil {
		return nil, fmt.Errorf("read %d waited-for jobs: %w", len(ids), err)
	}
	return js, nil
}

// Connector returns a connect function for NewHub that dials databaseURL.
// The URL may carry pgxpool's settings (pool_max_conns and the other pool_
// parameters), which the pool understands and Postgres does not: they are
// stripped here, for the hub's lone connection, as pgxpool strips them for its
// own. Handing the URL to pgx.Connect as it is would have Postgres refuse
// every LISTEN connection, leaving waiters to the slow safety poll.
func Connector(databaseURL string) (func(ctx context.Context) (*pgx.Conn, error), error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	return func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	}, nil
}
