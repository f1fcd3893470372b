package riveradapter

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Liveness is how other processes see that this one is alive: a session-level advisory
// lock held on a connection of its own. River records the client id of each attempt in
// the job's attempted_by; our client ids end with the lock's key (NewClientID), so any
// process can tell from a running job whether the process that runs it is still there.
//
// When a process dies (kill -9, a crash, the machine), the kernel closes its sockets,
// Postgres ends the session at once and the lock is released: DeadClientRescuer then
// makes its jobs available again within a second or two, instead of River's rescue after
// the worker's timeout. A process that is alive holds its lock however long its jobs run.
// A process cut off from Postgres by a network partition keeps its session (and its lock)
// until Postgres notices, which is what River's own rescue remains for.
type Liveness struct {
	id     string
	key    int64
	cfg    *pgx.ConnConfig
	log    *slog.Logger
	every  time.Duration
	mu     sync.Mutex
	conn   *pgx.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

// livenessPrefix marks our client ids; livenessKeyHex is the length of the key suffix.
const (
	livenessPrefix = "waba_"
	livenessKeyHex = 16
)

// NewClientID returns a River client id unique to this process: a random 64-bit key (the
// advisory lock's), after the host name and pid for people reading the River UI.
func NewClientID() (id string, key int64) {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	key = int64(binary.BigEndian.Uint64(b[:]))
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r == '_' || r < ' ' || r > '~' {
			return '-'
		}
		return r
	}, host)
	if len(host) > 50 {
		host = host[:50]
	}
	return fmt.Sprintf("%s%s_%d_%s", livenessPrefix, host, os.Getpid(), hex.EncodeToString(b[:])), key
}

// LivenessKey returns the advisory lock key of a client id made by NewClientID; ok is
// false for any other id (another program's client, or ours before liveness locks).
func LivenessKey(clientID string) (key int64, ok bool) {
	n := len(clientID)
	if !strings.HasPrefix(clientID, livenessPrefix) || n < len(livenessPrefix)+livenessKeyHex+1 || clientID[n-livenessKeyHex-1] != '_' {
		return 0, false
	}
	b, err := hex.DecodeString(clientID[n-livenessKeyHex:])
	if err != nil {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

// NewLiveness returns the liveness of a process with a fresh client id, connecting as the
// pool does. Start it before the River client that uses ID, stop it after.
func NewLiveness(pool *pgxpool.Pool, log *slog.Logger) *Liveness {
	id, key := NewClientID()
	return NewLivenessFor(pool.Config().ConnConfig, id, key, log)
}

// NewLivenessFor returns the liveness of the given client id and key (tests, and several
// clients in one process).
func NewLivenessFor(cfg *pgx.ConnConfig, id string, key int64, log *slog.Logger) *Liveness {
	return &Liveness{id: id, key: key, cfg: cfg.Copy(), log: log, every: time.Second}
}

// ID is the River client id to configure (river.Config.ID).
func (l *Liveness) ID() string { return l.id }

// Start takes the lock, retrying until ctx ends: a River client must not work a job
// before its process is visibly alive, or another process would rescue that job. Then it
// keeps the lock: if the connection breaks (Postgres restarted, an administrator ended
// the session), it reconnects and takes it again.
func (l *Liveness) Start(ctx context.Context) error {
	for {
		err := l.acquire(ctx)
		if err == nil {
			break
		}
		l.log.WarnContext(ctx, "liveness lock not taken yet", "client_id", l.id, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("liveness lock: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	run, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go l.keep(run)
	return nil
}

// Stop releases the lock (closing its connection): call it after the River client has
// stopped, or its jobs still running would be rescued while they run.
func (l *Liveness) Stop() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
}

// acquire connects and takes the lock; the connection is kept only if it has it.
func (l *Liveness) acquire(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	if err != nil {
		return err
	}
	var ok bool
	// Tried, not waited for: the only other holder can be a rescuer's brief transaction
	// lock on a key it found free, or a process with the same key (never, 64 random bits).
	if err = conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err == nil && !ok {
		err = fmt.Errorf("advisory lock %d is held by another session", l.key)
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return err
	}
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	return nil
}

// keep checks the connection every second and takes the lock again when it was lost.
func (l *Liveness) keep(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		conn := l.conn
		l.mu.Unlock()
		if conn != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			// Its session is gone (or going): the lock with it. Other processes may rescue
			// this one's running jobs until it is back; their side effects are idempotent
			// (webhooks) or guarded (a send skips a message that has its wamid).
			l.log.ErrorContext(ctx, "liveness connection lost: taking the lock again", "client_id", l.id, "err", err)
			_ = conn.Close(context.Background())
			l.mu.Lock()
			l.conn = nil
			l.mu.Unlock()
		}
		if err := l.acquire(ctx); err != nil {
			if ctx.Err() == nil {
				l.log.WarnContext(ctx, "liveness lock not taken yet", "client_id", l.id, "err", err)
			}
			continue
		}
		l.log.InfoContext(ctx, "liveness lock taken again", "client_id", l.id)
	}
}
