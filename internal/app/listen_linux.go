package app

import (
	"errors"
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
	list, what := "tcp_available_congestion_control", "available here"
	if errors.Is(err, syscall.EPERM) {
		list, what = "tcp_allowed_congestion_control", "allowed without CAP_NET_ADMIN"
	}
	if names, rerr := os.ReadFile("/proc/sys/net/ipv4/" + list); rerr == nil {
		return fmt.Errorf("%w (%s: %s)", err, what, strings.TrimSpace(string(names)))
	}
	return err
}
