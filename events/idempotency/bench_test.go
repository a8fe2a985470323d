package idempotency_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/idempotency"
)

// reserveSave is one idempotent request's work on the store: reserve a new
// key, save the answer.
func reserveSave(b *testing.B, s idempotency.Store, key string, resp idempotency.StoredResponse) {
	ctx := context.Background()
	if got, err := s.Reserve(ctx, key); got != nil || err != nil {
		b.Fatalf("Reserve = %v, %v", got, err)
	}
	if err := s.Save(ctx, key, resp); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStores measures, for each store, an idempotent request's
// store work (Reserve + Save of a new key, as the middleware does; the
// formatting of the key is included) and a retry's (Reserve of a remembered
// key). The Redis store runs against the test redis-server on loopback.
func BenchmarkStores(b *testing.B) {
	stores := []struct {
		name string
		new  func(b *testing.B) idempotency.Store
	}{
		{"memory", func(*testing.B) idempotency.Store { return idempotency.NewMemory(idempotency.MemoryConfig{}) }},
		{"redis", func(b *testing.B) idempotency.Store {
			return newRedis(b, idempotency.RedisConfig{Client: needRedis(b), Prefix: newPrefix()})
		}},
	}
	resp := idempotency.StoredResponse{Fingerprint: strings.Repeat("f", 64), Status: 200, ContentType: "application/json",
		Body: []byte(`{"id":"1795321733345624","subscribers":{"orders":12}}` + "\n")}
	for _, st := range stores {
		b.Run(st.name+"/reserve+save", func(b *testing.B) {
			s := st.new(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				reserveSave(b, s, fmt.Sprintf("%064x", i), resp) // the size of a scopedKey
			}
		})
		b.Run(st.name+"/replay", func(b *testing.B) {
			s := st.new(b)
			key := idempotency.ScopedKey("bench", "replayed")
			reserveSave(b, s, key, resp)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if got, err := s.Reserve(ctx, key); got == nil || err != nil {
					b.Fatalf("Reserve = %v, %v; want the answer", got, err)
				}
			}
		})
	}
}
