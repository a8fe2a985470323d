package idempotency_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// The package's Redis tests share one redis-server, started by the first
// test that needs it (so that tests without Redis start none); each store
// under test gets a key prefix of its own.
var (
	redisWanted atomic.Bool
	testRedis   = sync.OnceValues(func() (*redistest.Server, error) {
		redisWanted.Store(true)
		return redistest.Start()
	})
	testRedisClient = sync.OnceValue(func() *redis.Client {
		s, _ := testRedis()
		return redis.NewClient(&redis.Options{Addr: s.Addr})
	})
	prefixSeq atomic.Int64
)

// quietRedis drops go-redis's own log lines (each failed dial of the tests
// that stop Redis on purpose).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	code := m.Run()
	if redisWanted.Load() {
		if s, err := testRedis(); err == nil {
			_ = testRedisClient().Close()
			s.Stop()
		}
	}
	os.Exit(code)
}

// needRedis returns a client of the test redis-server, skipping the test
// with PLEXOR_SKIP_REDIS=1 and failing it when the server could not start.
func needRedis(t testing.TB) *redis.Client {
	t.Helper()
	if redistest.Skipped() {
		t.Skip("PLEXOR_SKIP_REDIS=1")
	}
	if _, err := testRedis(); err != nil {
		t.Fatal(err)
	}
	return testRedisClient()
}

// newPrefix returns a key prefix no other test uses.
func newPrefix() string { return "test" + strconv.FormatInt(prefixSeq.Add(1), 10) }
