package e2e

import (
	"net"
	"time"
)

func listenUnix(path string) (net.Listener, error) { return net.Listen("unix", path) }

func timeNow() time.Time { return time.Now() }
