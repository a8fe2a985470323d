package idempotency_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/events/idempotency/idemtest"
	"github.com/plexor/plexor/history/redistest"
)

func newRedis(t testing.TB, cfg idempotency.RedisConfig) *idempotency.Redis {
	t.Helper()
	s, err := idempotency.NewRedis(cfg)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// elapseReal lets d pass for keys that Redis expires: Redis drops a key
// once its clock is past the expiry, so a little more than d must pass.
func elapseReal(d time.Duration) { time.Sleep(d + 20*time.Millisecond) }

func TestRedisConformance(t *testing.T) {
	client := needRedis(t)
	idemtest.Run(t, func(t *testing.T, ttl time.Duration) idemtest.Subject {
		return idemtest.Subject{
			Store:  newRedis(t, idempotency.RedisConfig{Client: client, Prefix: newPrefix(), TTL: ttl}),
			Elapse: elapseReal,
		}
	})
}

func TestNewRedisConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name      string
		cfg       idempotency.RedisConfig
		wantErr   string // "" = valid
		wantKey   string // the Redis key of "k"
		wantTTL   int64  // milliseconds
		wantLease int64  // milliseconds
	}{
		{"defaults", idempotency.RedisConfig{Client: client}, "", "{plexor}:idem:k", 24 * 3600 * 1000, 60 * 1000},
		{"prefix, ttl and lease", idempotency.RedisConfig{Client: client, Prefix: "app1", TTL: time.Hour, Lease: 5 * time.Second},
			"", "{app1}:idem:k", 3600 * 1000, 5000},
		{"sub-millisecond rounds up", idempotency.RedisConfig{Client: client, TTL: time.Microsecond, Lease: 1500 * time.Microsecond},
			"", "{plexor}:idem:k", 1, 2},
		{"no client", idempotency.RedisConfig{}, "needs a client", "", 0, 0},
		{"negative ttl", idempotency.RedisConfig{Client: client, TTL: -time.Second}, "ttl must not be negative", "", 0, 0},
		{"negative lease", idempotency.RedisConfig{Client: client, Lease: -time.Second}, "lease must not be negative", "", 0, 0},
		{"prefix with {", idempotency.RedisConfig{Client: client, Prefix: "a{b"}, "must not contain", "", 0, 0},
		{"prefix with }", idempotency.RedisConfig{Client: client, Prefix: "a}b"}, "must not contain", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := idempotency.NewRedis(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if got := idempotency.RedisKey(s, "k"); got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
			if ttl, lease := idempotency.RedisExpiries(s); ttl != tt.wantTTL || lease != tt.wantLease {
				t.Errorf("ttl, lease = %d ms, %d ms; want %d ms, %d ms", ttl, lease, tt.wantTTL, tt.wantLease)
			}
		})
	}
}

// TestRedisExpiries: a reservation expires after the lease, an
// answer after the TTL, as Redis sees them (PTTL: no waiting).
func TestRedisExpiries(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	const ttl, lease = 24 * time.Hour, 30 * time.Second
	s := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: newPrefix(), TTL: ttl, Lease: lease})
	steps := []struct {
		name     string
		do       func() error
		min, max time.Duration // the key's PTTL afterwards: min < PTTL ≤ max
	}{
		{"reserved: the lease", func() error { _, err := s.Reserve(ctx, "k"); return err }, 0, lease},
		{"still reserved: the lease is not renewed", func() error {
			if _, err := s.Reserve(ctx, "k"); !errors.Is(err, idempotency.ErrKeyInFlight) {
				return fmt.Errorf("second Reserve: %v, want idempotency.ErrKeyInFlight", err)
			}
			return nil
		}, 0, lease},
		{"saved: the ttl", func() error { return s.Save(ctx, "k", answer("x")) }, lease, ttl},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			got, err := client.PTTL(ctx, idempotency.RedisKey(s, "k")).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got <= st.min || got > st.max {
				t.Fatalf("PTTL = %v, want in (%v, %v]", got, st.min, st.max)
			}
		})
	}
}

// TestRedisNodes: stores of one prefix are nodes of one
// deployment and see each other's keys; another prefix is another
// deployment, and sees none.
func TestRedisNodes(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	nodes := map[string]*idempotency.Redis{
		"a":     newRedis(t, idempotency.RedisConfig{Client: client, Prefix: prefix}),
		"b":     newRedis(t, idempotency.RedisConfig{Client: client, Prefix: prefix}),
		"other": newRedis(t, idempotency.RedisConfig{Client: client, Prefix: prefix + "x"}),
	}
	steps := []struct {
		name    string
		node    string
		op      string // reserve, save, release
		key     string
		wantErr error
		want    string // body of the remembered answer; "" = none
	}{
		{"a reserves", "a", "reserve", "k", nil, ""},
		{"b sees a's reservation", "b", "reserve", "k", idempotency.ErrKeyInFlight, ""},
		{"another deployment does not", "other", "reserve", "k", nil, ""},
		{"b cannot release a's reservation", "b", "release", "k", nil, ""},
		{"so a still holds it", "b", "reserve", "k", idempotency.ErrKeyInFlight, ""},
		{"a saves", "a", "save", "k", nil, ""},
		{"b replays a's answer", "b", "reserve", "k", nil, "from a"},
		{"the other deployment still holds its own reservation", "other", "reserve", "k", idempotency.ErrKeyInFlight, ""},
		{"and saves its own answer", "other", "save", "k", nil, ""},
		{"which a does not see", "a", "reserve", "k", nil, "from a"},
		{"b reserves a second key", "b", "reserve", "k2", nil, ""},
		{"b releases it", "b", "release", "k2", nil, ""},
		{"a can reserve it", "a", "reserve", "k2", nil, ""},
		{"b saves it meanwhile (a took too long)", "b", "save", "k2", nil, ""},
		{"a releases late, which keeps b's answer", "a", "release", "k2", nil, ""},
		{"the answer stays", "a", "reserve", "k2", nil, "from b"},
	}
	for _, st := range steps { // steps of one story: they run in order
		t.Run(st.name, func(t *testing.T) {
			s := nodes[st.node]
			var got *idempotency.StoredResponse
			var err error
			switch st.op {
			case "reserve":
				got, err = s.Reserve(ctx, st.key)
			case "save":
				err = s.Save(ctx, st.key, answer("from "+st.node))
			case "release":
				err = s.Release(ctx, st.key)
			}
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("%s %s(%q): err = %v, want %v", st.node, st.op, st.key, err, st.wantErr)
			}
			switch {
			case st.want == "" && got != nil:
				t.Fatalf("got the answer %q, want none", got.Body)
			case st.want != "" && (got == nil || string(got.Body) != st.want):
				t.Fatalf("got %v, want the answer %q", got, st.want)
			}
		})
	}
	keys, err := client.Keys(ctx, "{"+prefix+"}:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys under {%s}: %q, want the two idempotency keys", prefix, keys)
	}
}

// TestRedisLease: the reservation of a node that died (never
// saves nor releases) ends with its lease, and the key can be reserved by
// another node; the dead node's late Release does not end the new one.
func TestRedisLease(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	const lease = time.Second
	dying := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: prefix, Lease: lease})
	alive := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: prefix, Lease: time.Hour})

	began := time.Now()
	if got, err := dying.Reserve(ctx, "k"); got != nil || err != nil {
		t.Fatalf("first Reserve = %v, %v; want a reservation", got, err)
	}
	// Refused while the lease runs — unless a whole lease has already passed.
	if _, err := alive.Reserve(ctx, "k"); !errors.Is(err, idempotency.ErrKeyInFlight) && time.Since(began) < lease {
		t.Fatalf("Reserve during the lease: err = %v, want idempotency.ErrKeyInFlight", err)
	}
	elapseReal(lease)
	steps := []struct {
		name    string
		do      func() (*idempotency.StoredResponse, error)
		wantErr error
	}{
		{"another node reserves once the lease ended", func() (*idempotency.StoredResponse, error) { return alive.Reserve(ctx, "k") }, nil},
		{"the dead node releases late", func() (*idempotency.StoredResponse, error) { return nil, dying.Release(ctx, "k") }, nil},
		{"the new reservation holds", func() (*idempotency.StoredResponse, error) { return dying.Reserve(ctx, "k") }, idempotency.ErrKeyInFlight},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := st.do()
			if got != nil || !errors.Is(err, st.wantErr) {
				t.Fatalf("got %v, %v; want no answer and err %v", got, err, st.wantErr)
			}
		})
	}
}

// TestRedisJunk: a value the store cannot read is an error, not
// a reservation, an answer or a panic.
func TestRedisJunk(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	s := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: newPrefix()})
	valid, err := idempotency.EncodeStoredResponse(answer("x"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value string
	}{
		{"empty", ""},
		{"unknown tag", "X"},
		{"JSON", `{"status":200,"body":"x"}`},
		{"short reservation", "R"},
		{"long reservation", "R0123456789abcdef0"},
		{"future format", "A2" + string(valid[2:])},
		{"tag only", "A1"},
		{"fingerprint longer than the value", "A1\x05ab"},
		{"huge fingerprint length", "A1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
		{"no status", "A1\x01f"},
		{"status 0", "A1\x01f\x00\x00"},
		{"status 1000", "A1\x01f\xe8\x07\x00"},
		{"no content type", "A1\x01f\xc8\x01"},
		{"content type longer than the value", "A1\x01f\xc8\x01\x09text"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprint("junk", i)
			if err := client.Set(ctx, idempotency.RedisKey(s, key), tt.value, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Reserve(ctx, key)
			if err == nil || errors.Is(err, idempotency.ErrKeyInFlight) || got != nil {
				t.Fatalf("Reserve of %q = %v, %v; want a decoding error", tt.value, got, err)
			}
		})
	}
}

func TestStoredResponseEncoding(t *testing.T) {
	tests := []struct {
		name    string
		resp    idempotency.StoredResponse
		wantErr bool
		wantLen int // encoded size; 0 = not checked
	}{
		{"typical", idempotency.StoredResponse{Fingerprint: strings.Repeat("f", 64), Status: 200, ContentType: "application/json", Body: []byte(`{"id":"1"}`)},
			false, 2 + 1 + 64 + 2 + 1 + 16 + 10},
		{"empty", idempotency.StoredResponse{Status: 204}, false, 2 + 1 + 2 + 1},
		{"status 99", idempotency.StoredResponse{Status: 99}, true, 0},
		{"status 1000", idempotency.StoredResponse{Status: 1000}, true, 0},
		{"huge fingerprint", idempotency.StoredResponse{Status: 200, Fingerprint: strings.Repeat("f", idempotency.MaxStoredHeader+1)}, true, 0},
		{"huge content type", idempotency.StoredResponse{Status: 200, ContentType: strings.Repeat("t", idempotency.MaxStoredHeader+1)}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := idempotency.EncodeStoredResponse(tt.resp)
			if (err != nil) != tt.wantErr {
				t.Fatalf("encode err = %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if tt.wantLen != 0 && len(v) != tt.wantLen {
				t.Errorf("encoded size = %d, want %d", len(v), tt.wantLen)
			}
			got, err := idempotency.DecodeStoredResponse(v)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Fingerprint != tt.resp.Fingerprint || got.Status != tt.resp.Status ||
				got.ContentType != tt.resp.ContentType || string(got.Body) != string(tt.resp.Body) {
				t.Fatalf("decoded %+v, want %+v", got, tt.resp)
			}
		})
	}
}

// FuzzDecodeStoredResponse: decoding any value returns an error or an answer
// that encodes back to the same value; it never panics.
func FuzzDecodeStoredResponse(f *testing.F) {
	for _, r := range []idempotency.StoredResponse{answer("x"), {Status: 204}, {Fingerprint: "f", Status: 201, ContentType: "text/plain", Body: []byte("\x00\n")}} {
		v, _ := idempotency.EncodeStoredResponse(r)
		f.Add(v)
	}
	f.Add([]byte("R0123456789abcdef"))
	f.Add([]byte("A1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := idempotency.DecodeStoredResponse(v)
		if err != nil {
			return
		}
		again, err := idempotency.EncodeStoredResponse(*got)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", got, err)
		}
		if _, err := idempotency.DecodeStoredResponse(again); err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", again, err)
		}
	})
}

// downClient is a client of a loopback port where nothing listens, that
// gives up quickly.
func downClient(t *testing.T) *redis.Client {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("127.0.0.1:%d", port),
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// TestRedisDown: with Redis unreachable — never there, or
// stopped while in use — every call fails promptly with an error (not
// idempotency.ErrKeyInFlight, not a silent success).
func TestRedisDown(t *testing.T) {
	if redistest.Skipped() {
		t.Skip("PLEXOR_SKIP_REDIS=1")
	}
	ctx := t.Context()

	// A server of its own, to stop: the shared one serves other tests.
	server, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	stoppedClient := redis.NewClient(&redis.Options{
		Addr: server.Addr, DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = stoppedClient.Close() })
	stopped := newRedis(t, idempotency.RedisConfig{Client: stoppedClient})
	if _, err := stopped.Reserve(ctx, "k"); err != nil {
		t.Fatalf("Reserve before the stop: %v", err)
	}
	server.Stop()

	stores := map[string]*idempotency.Redis{
		"closed port":    newRedis(t, idempotency.RedisConfig{Client: downClient(t)}),
		"server stopped": stopped,
	}
	calls := []struct {
		name string
		call func(s *idempotency.Redis) error
	}{
		{"Reserve", func(s *idempotency.Redis) error { _, err := s.Reserve(ctx, "k"); return err }},
		// Only "server stopped" holds a reservation (taken before the stop)
		// to release; Release of a key the store does not hold does nothing.
		{"Release", func(s *idempotency.Redis) error { return s.Release(ctx, "k") }},
		{"Save", func(s *idempotency.Redis) error { return s.Save(ctx, "k", answer("x")) }},
	}
	const prompt = 2 * time.Second
	for name, s := range stores {
		for _, c := range calls {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				began := time.Now()
				err := c.call(s)
				took := time.Since(began)
				if name == "closed port" && c.name == "Release" {
					if err != nil {
						t.Errorf("Release of a key the store holds no reservation of: err = %v, want nil", err)
					}
					return
				}
				if err == nil || errors.Is(err, idempotency.ErrKeyInFlight) || !strings.Contains(err.Error(), "redis idempotency") {
					t.Errorf("%s with Redis down: err = %v, want a Redis error", c.name, err)
				}
				if took > prompt {
					t.Errorf("%s with Redis down took %v, want under %v", c.name, took, prompt)
				}
			})
		}
	}
}
