package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

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
				if err != nil && os.Getenv("KVSCOPE_REQUIRE_EXTERNAL") == "1" {
					return false, err
				}
				return err == nil, nil
			}
			return false, nil
		},
	})
}
