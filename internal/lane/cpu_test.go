package lane

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time over a benchmark loop: on a
// shared machine it tells the work done apart from the time spent waiting
// for a core, which ns/op includes.
type cpuClock struct {
	b     *testing.B
	start syscall.Rusage
}

// startCPU starts measuring b's CPU time.
func startCPU(b *testing.B) cpuClock {
	c := cpuClock{b: b}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &c.start); err != nil {
		b.Fatal(err)
	}
	return c
}

// report stops the timer and reports the user and system CPU time per
// operation (of every goroutine: the client's too in a loopback benchmark).
func (c cpuClock) report() {
	c.b.StopTimer()
	var end syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &end); err != nil {
		c.b.Fatal(err)
	}
	n := float64(c.b.N)
	c.b.ReportMetric(float64(time.Duration(end.Utime.Nano()-c.start.Utime.Nano()))/n, "user-ns/op")
	c.b.ReportMetric(float64(time.Duration(end.Stime.Nano()-c.start.Stime.Nano()))/n, "sys-ns/op")
}
