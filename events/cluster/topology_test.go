package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/cluster"
)

// TestParseURLTopologies: the three forms of PLEXOR_REDIS_URL give a
// single-server, a Sentinel failover or a Cluster client's options, with
// Plexor's defaults (no retries, 2s timeouts) where the URL says nothing.
func TestParseURLTopologies(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		check func(t *testing.T, r *cluster.Redis)
	}{
		{"single", "redis://u:p@127.0.0.1:6379/2", func(t *testing.T, r *cluster.Redis) {
			if r.Single == nil || r.Single.Addr != "127.0.0.1:6379" || r.Single.DB != 2 || r.Single.MaxRetries != -1 {
				t.Errorf("single: %+v", r.Single)
			}
		}},
		{"sentinel", "redis+sentinel://app:secret@127.0.0.1:26379/mymaster?addr=127.0.0.1:26380&addr=127.0.0.1:26381&db=3&sentinel_password=sp&read_timeout=500ms", func(t *testing.T, r *cluster.Redis) {
			o := r.Failover
			if o == nil {
				t.Fatalf("no failover options: %+v", r)
			}
			if got := strings.Join(o.SentinelAddrs, ","); got != "127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381" {
				t.Errorf("sentinels = %s", got)
			}
			if o.MasterName != "mymaster" || o.DB != 3 || o.Username != "app" || o.Password != "secret" || o.SentinelPassword != "sp" {
				t.Errorf("master %q db %d user %q password %q sentinel password %q; want mymaster 3 app secret sp", o.MasterName, o.DB, o.Username, o.Password, o.SentinelPassword)
			}
			if o.MaxRetries != -1 || o.DialTimeout != 2*time.Second || r.ReadTimeout() != 500*time.Millisecond || o.TLSConfig != nil {
				t.Errorf("retries %d dial %v read %v tls %v; want -1 2s 500ms none", o.MaxRetries, o.DialTimeout, r.ReadTimeout(), o.TLSConfig)
			}
		}},
		{"sentinel over TLS", "rediss+sentinel://127.0.0.1:26379/m", func(t *testing.T, r *cluster.Redis) {
			if r.Failover == nil || r.Failover.TLSConfig == nil {
				t.Errorf("rediss+sentinel: no TLS: %+v", r.Failover)
			}
		}},
		{"cluster", "redis+cluster://:pw@127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002", func(t *testing.T, r *cluster.Redis) {
			o := r.Cluster
			if o == nil {
				t.Fatalf("no cluster options: %+v", r)
			}
			if got := strings.Join(o.Addrs, ","); got != "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002" || o.Password != "pw" {
				t.Errorf("seeds %s password %q", got, o.Password)
			}
			if o.MaxRetries != -1 || o.MaxRedirects < 3 || r.ReadTimeout() != 2*time.Second || o.TLSConfig != nil {
				t.Errorf("retries %d redirects %d read %v tls %v", o.MaxRetries, o.MaxRedirects, r.ReadTimeout(), o.TLSConfig)
			}
		}},
		{"cluster over TLS", "rediss+cluster://127.0.0.1:7000", func(t *testing.T, r *cluster.Redis) {
			if r.Cluster == nil || r.Cluster.TLSConfig == nil {
				t.Errorf("rediss+cluster: no TLS: %+v", r.Cluster)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := cluster.ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

// TestParseURLRefusals: a URL that cannot be used is refused with the form
// expected, never repeating a password.
func TestParseURLRefusals(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"sentinel without a master", "redis+sentinel://127.0.0.1:26379", "master's name"},
		{"sentinel with two path parts", "redis+sentinel://127.0.0.1:26379/a/b", "master's name"},
		{"sentinel with master_name", "redis+sentinel://127.0.0.1:26379/m?master_name=x", "unknown option master_name"},
		{"sentinel with a bad addr", "redis+sentinel://127.0.0.1:26379/m?addr=nohost", "redis+sentinel://"},
		{"sentinel with a bad db", "redis+sentinel://127.0.0.1:26379/m?db=x", "redis+sentinel://"},
		{"cluster with an unknown option", "redis+cluster://127.0.0.1:7000?bogus=1", "redis+cluster://"},
		{"cluster with a password in the way", "redis+cluster://u:p/ss@127.0.0.1:7000", "percent-encoded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cluster.ParseURL(tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "not a usable Redis URL") {
				t.Fatalf("ParseURL(%q) = %v, want an error mentioning %q", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "ss@") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}
