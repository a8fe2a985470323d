package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// setCongestion sets the TCP congestion control algorithm of the socket fd.
func setCongestion(fd uintptr, name string) error {
	err := syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, name)
	if err == nil {
		return nil
	}
	if avail, rerr := os.ReadFile("/proc/sys/net/ipv4/tcp_available_congestion_control"); rerr == nil {
		return fmt.Errorf("%w (available here: %s)", err, strings.TrimSpace(string(avail)))
	}
	return err
}
