package load

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// StandardPoints returns the standard load points of issue 8, in the order
// they are run (idle first, while the server is fresh). scale (0 < scale ≤ 1
// for a quick run) multiplies subscriber and message counts; idleSettle is
// the idle point's wait before it samples memory (longer than the server's
// heartbeat interval).
//
//   - idle: 10,000 feeds over 100 channels, nothing published: RSS per
//     connection.
//   - one-channel: 10,000 subscribers of one channel, 100 messages at 10/s
//     (1M deliveries): CPU per 1M deliveries.
//   - hundred-channel: 1,000 subscribers over 100 channels (one channel each,
//     10 per channel), 1,000 msg/s for 30 s from 4 publishers: CPU per 1M
//     deliveries and latency.
//   - publish-rate: 100 subscribers of one channel, 8 keep-alive publishers
//     as fast as they go for 10 s (at most 1M messages): publishes/s.
func StandardPoints(scale float64, idleSettle time.Duration) []Point {
	n := func(v int) int { return max(1, int(math.Round(float64(v)*scale))) }
	return []Point{
		{Name: "idle", Subscribers: n(10000), Channels: 100, Settle: idleSettle},
		{Name: "one-channel", Subscribers: n(10000), Channels: 1, Messages: n(100), Rate: 10, Settle: 2 * time.Second},
		{Name: "hundred-channel", Subscribers: n(1000), Channels: 100, Messages: n(30000), Rate: 1000, Publishers: 4, Settle: time.Second},
		{Name: "publish-rate", Subscribers: n(100), Channels: 1, Messages: n(1000000), Publishers: 8, Duration: 10 * time.Second, Settle: time.Second},
	}
}

// SelectPoints returns the standard points named in a comma-separated list
// ("standard" or "all": every one), in the list's order.
func SelectPoints(list string, std []Point) ([]Point, error) {
	var out []Point
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "standard" || name == "all" {
			out = append(out, std...)
			continue
		}
		found := false
		for _, p := range std {
			if p.Name == name {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			var names []string
			for _, p := range std {
				names = append(names, p.Name)
			}
			return nil, fmt.Errorf("unknown point %q: want standard or some of %s", name, strings.Join(names, ","))
		}
	}
	if len(out) == 0 {
		return nil, errNoPoints
	}
	return out, nil
}

// WriteTable writes one row per result: the load, the checks and the
// figures. Figures that were not measured (no server PID, nothing
// published) are shown as "-"; RSS per connection only for idle points,
// where nothing but the connections changes the server's memory.
func WriteTable(w io.Writer, target string, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tpoint\tsubs\tchans\tpublished\tpub/s\tdeliveries\tdeliv/s\tlost\tdup\treord\tdisc\tp50\tp90\tp99\tmax\tCPU s/1M\tRSS/conn\t")
	for _, r := range results {
		p := r.Point
		row := []string{target, p.Name, fmt.Sprint(r.Connected), fmt.Sprint(p.Channels)}
		if p.Messages == 0 {
			row = append(row, "-", "-", "-", "-", "-", "-", "-", fmt.Sprint(r.Disconnects), "-", "-", "-", "-", "-")
		} else {
			pub := fmt.Sprint(r.Published)
			if r.PublishErrors > 0 {
				pub += fmt.Sprintf(" (+%d failed)", r.PublishErrors)
			}
			row = append(row, pub, fmt.Sprintf("%.0f", r.PublishesPerSecond()),
				fmt.Sprintf("%d/%d", r.Delivered, r.Expected), fmt.Sprintf("%.0f", r.DeliveriesPerSecond()),
				fmt.Sprint(r.Lost), fmt.Sprint(r.Duplicates), fmt.Sprint(r.Reordered), fmt.Sprint(r.Disconnects),
				ms(r.Latency.Quantile(0.50)), ms(r.Latency.Quantile(0.90)), ms(r.Latency.Quantile(0.99)), ms(r.Latency.Max()))
			if r.Measured {
				row = append(row, fmt.Sprintf("%.2f", r.CPUPerMillion()))
			} else {
				row = append(row, "-")
			}
		}
		if r.Measured && p.Messages == 0 {
			row = append(row, fmt.Sprintf("%.1f KiB", r.RSSPerConnection()/1024))
		} else {
			row = append(row, "-")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
