package idempotency

import (
	"context"
	"time"
)

// retryEvery is how often the store retries writes that failed.
const retryEvery = 100 * time.Millisecond

// later queues op on key for the retry goroutine, starting it if it is not
// running. The op is dropped once the key's lease is over: the reservation
// is gone from Redis by then (and an answer not saved is forgotten, so a
// retry of the request is carried out again; its append token keeps it
// from being stored twice).
func (r *Redis) later(key string, op pendingOp) {
	op.until = time.Now().Add(time.Duration(r.lease) * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.pending[key] = op
	if !r.retrying {
		r.retrying = true
		r.done.Add(1)
		go r.retry()
	}
}

// retry applies the pending writes every retryEvery until none is left or
// the store is closed. Close owns its end; it stops by itself when nothing
// is pending.
func (r *Redis) retry() {
	defer r.done.Done()
	tick := time.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		r.mu.Lock()
		if len(r.pending) == 0 {
			r.retrying = false
			r.mu.Unlock()
			return
		}
		ops := make(map[string]pendingOp, len(r.pending))
		for k, op := range r.pending {
			ops[k] = op
		}
		r.mu.Unlock()
		for key, op := range ops {
			if r.apply(key, op) != nil {
				break // Redis is still away: wait for the next tick
			}
		}
	}
}

// apply tries op once and forgets it when it landed or its time is over.
func (r *Redis) apply(key string, op pendingOp) error {
	var err error
	if time.Now().Before(op.until) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if op.answer != "" {
			err = r.save(ctx, key, op.answer)
		} else {
			err = r.release(ctx, key, op.reservation)
		}
		cancel()
	}
	if err == nil {
		r.mu.Lock()
		if r.pending[key] == op {
			delete(r.pending, key)
		}
		r.mu.Unlock()
	}
	return err
}
