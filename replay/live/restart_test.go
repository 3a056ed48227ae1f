//go:build unix

package live

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// refusingPort is a 127.0.0.1 port held by a socket that is bound but not
// listening: the kernel answers a connection attempt with a reset
// (connection refused), and no other socket, nor an outgoing connection's
// ephemeral port, can take the port meanwhile. listen then starts
// accepting on that same socket: a worker restarting on its port, with no
// window in which the port could be lost. (Unix only: Windows has no
// net.FileListener.)
type refusingPort struct {
	fd   int
	addr string
}

func newRefusingPort(t *testing.T) *refusingPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	p := &refusingPort{fd: fd, addr: (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()}
	t.Cleanup(func() {
		if p.fd >= 0 {
			syscall.Close(p.fd)
		}
	})
	return p
}

// listen makes the port accept connections and returns its listener.
func (p *refusingPort) listen() (net.Listener, error) {
	if err := syscall.Listen(p.fd, syscall.SOMAXCONN); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(p.fd), "tcp:"+p.addr)
	p.fd = -1       // f owns it now
	defer f.Close() // the listener holds its own copy
	return net.FileListener(f)
}

// A worker whose port refuses connections leaves routing (the requests
// the router gives it go to the other worker) and, once it listens again
// on the same port, comes back after a successful health probe and serves
// again. The test drives the phases by events, not by time: worker 0 is
// brought up when a record shows a request rerouted away from it; then
// the next request on worker 1 is held until a snapshot taken after that
// record shows worker 0 healthy again, so requests are left for it.
func TestRefusedWorkerLeavesRoutingAndRecovers(t *testing.T) {
	hold := make(chan struct{})
	var holding atomic.Bool // arms the hold on worker 1's next request
	good := newFake()
	good.fault = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if holding.CompareAndSwap(true, false) {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		return false
	}
	goodSrv := httptest.NewServer(good)
	defer goodSrv.Close()
	dead := newRefusingPort(t)
	tr := smallTrace(t, 30)

	updates := make(chan Update)
	stop := make(chan struct{})
	consumed := make(chan struct{})
	var revived *httptest.Server
	var released bool
	go func() {
		defer close(consumed)
		finished, finishedAtRevival := 0, -1
		for {
			var u Update
			select {
			case u = <-updates:
			case <-stop:
				return
			}
			if r := u.Record; r != nil {
				finished++
				if revived == nil && r.Routed == 0 && r.Worker == 1 {
					holding.Store(true)
					l, err := dead.listen()
					if err != nil {
						t.Errorf("listening again on %s: %v", dead.addr, err)
						close(hold)
						released = true
						continue
					}
					revived = httptest.NewUnstartedServer(newFake())
					revived.Listener.Close()
					revived.Listener = l
					revived.Start()
					finishedAtRevival = finished
				}
			}
			if s := u.Snapshot; s != nil && !released && finishedAtRevival >= 0 &&
				s.Finished >= finishedAtRevival && s.Workers[0].Healthy {
				close(hold)
				released = true
			}
		}
	}()
	res := liveRun(t, tr, []string{"http://" + dead.addr, goodSrv.URL}, Config{Concurrency: 1, Retries: 1,
		ProbeInterval: 5 * time.Millisecond, Updates: updates, SnapshotEvery: 2 * time.Millisecond,
		Client: ClientConfig{Model: "m", FirstTokenTimeout: patience, StallTimeout: patience, Timeout: patience}})
	close(stop)
	<-consumed
	if revived == nil {
		t.Fatal("no record showed a request rerouted from worker 0: it was never brought up")
	}
	defer revived.Close()
	if !released {
		t.Fatal("no snapshot showed worker 0 healthy again after it was brought up")
	}
	w0 := res.Workers[0]
	if res.Completed != 30 || w0.Downs < 1 || w0.Recovered < 1 || w0.Failures[string(KindRefused)] < 1 {
		t.Fatalf("completed %d; worker 0 %+v", res.Completed, w0)
	}
	if w0.Completed == 0 {
		t.Fatalf("worker 0 never came back into routing: %+v", w0)
	}
	rerouted := 0
	for _, r := range res.Records {
		if r.Routed == 0 && r.Worker == 1 {
			rerouted++
		}
	}
	if rerouted == 0 {
		t.Fatal("no request the router sent to the dead worker went elsewhere")
	}
	t.Logf("worker 0: %d refused, %d downs, %d recoveries, %d completed after coming back; %d requests rerouted",
		w0.Failures[string(KindRefused)], w0.Downs, w0.Recovered, w0.Completed, rerouted)
}
