package app

import (
	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/internal/config"
)

// ipExtractor says how to find a client's address: the connection's peer,
// or, behind proxies listed in PLEXOR_TRUSTED_PROXIES, the nearest
// X-Forwarded-For entry that is not one of them. A client cannot fake its
// address with a header unless it is one of those proxies.
func ipExtractor(cfg config.Config) echo.IPExtractor {
	ranges, _ := config.TrustedProxyRanges(cfg.TrustedProxies) // validated by config.Load
	if len(ranges) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, r := range ranges {
		opts = append(opts, echo.TrustIPRange(r))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
