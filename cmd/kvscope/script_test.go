package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/kvscope/kvscope/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

// waitPatience bounds waiturl: a deadline against a server that never
// comes up, generous enough that a loaded machine does not reach it.
const waitPatience = 3 * time.Minute

// TestMain lets testscript run this test binary as the `kvscope` command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kvscope": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs every testdata/script/*.txtar end to end. Scripts find
// the shared traces through $SHARED_TRACES (empty when they are missing)
// and the package's slices through $TRACE_TESTDATA.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("TRACE_TESTDATA", wd+"/../../replay/trace/testdata")
			env.Setenv("MEASURED_TESTDATA", wd+"/../../analysis/measured/testdata")
			shared := wd + "/../../../shared/traces"
			if _, err := os.Stat(shared); err != nil {
				shared = ""
			}
			env.Setenv("SHARED_TRACES", shared)
			env.Setenv("KVSCOPE_REQUIRE_EXTERNAL", os.Getenv("KVSCOPE_REQUIRE_EXTERNAL"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exitcode N CMD ARGS...: run CMD and require exit status N
			// (0 ok, 1 failure, 2 usage); stdout and stderr are kept for
			// the stdout/stderr checks that follow.
			// freeport NAME...: set each NAME to a TCP port that the OS
			// reports free on every IPv4 interface (the ports are held
			// together while picked, so they differ), for a server the
			// script starts next. No script uses a fixed port.
			"freeport": cmdFreeport,
			// waiturl URL...: wait until each URL answers GET with 200,
			// polling; fail at the deadline naming the URL and the last
			// error. Scripts wait for a server with it, never with sleep.
			"waiturl": cmdWaitURL,
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exitcode N command [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "shared":
				// Scripts guard shared-trace steps with [shared]; under
				// KVSCOPE_REQUIRE_EXTERNAL=1 a missing copy fails instead.
				_, err := os.Stat("../../../shared/traces")
				if err != nil && testenv.Required() {
					return false, err
				}
				return err == nil, nil
			}
			return false, nil
		},
	})
}

func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport NAME...")
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, name := range args {
		l, err := net.Listen("tcp4", ":0")
		if err != nil {
			ts.Fatalf("freeport: %v", err)
		}
		ls = append(ls, l)
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		ts.Setenv(name, port)
		ts.Logf("freeport: %s=%s", name, port)
	}
}

func cmdWaitURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: waiturl URL...")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(waitPatience)
	for _, u := range args {
		start := time.Now()
		for {
			err := get(client, u)
			if err == nil {
				ts.Logf("waiturl: %s answered after %v", u, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waiturl: %s did not answer within %v: %v", u, waitPatience, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// get is one GET of u: nil when it answers 200.
func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
