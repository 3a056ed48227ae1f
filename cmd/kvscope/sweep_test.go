package main

import (
	"bytes"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// TestSweepManifest decodes `kvscope sweep manifest`'s output strictly
// with the Kubernetes API types, and checks that the pod's command line is
// one kvscope's own `sweep run` accepts, with the shard index taken from
// JOB_COMPLETION_INDEX as the Job controller sets it.
func TestSweepManifest(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"sweep", "manifest", "--image", "ghcr.io/me/kvscope:1", "--shards", "8", "--parallelism", "3",
		"--pvc", "sweep-data", "--trace", "traces/conv.jsonl"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(out.Bytes(), &job); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, out.String())
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("not an Indexed batch/v1 Job:\n%s", out.String())
	}
	if *job.Spec.Completions != 8 || *job.Spec.Parallelism != 3 {
		t.Fatalf("completions %d parallelism %d", *job.Spec.Completions, *job.Spec.Parallelism)
	}
	pod := job.Spec.Template.Spec
	if pod.Volumes[0].PersistentVolumeClaim.ClaimName != "sweep-data" {
		t.Fatalf("claim %q", pod.Volumes[0].PersistentVolumeClaim.ClaimName)
	}
	c := pod.Containers[0]
	if c.Image != "ghcr.io/me/kvscope:1" || len(c.Command) != 1 || c.Command[0] != "kvscope" {
		t.Fatalf("image %q command %q", c.Image, c.Command)
	}
	if len(c.Args) < 2 || c.Args[0] != "sweep" || c.Args[1] != "run" {
		t.Fatalf("args %q", c.Args)
	}
	rc := newSweepRunCmd()
	if err := rc.Flags().Parse(c.Args[2:]); err != nil {
		t.Fatalf("sweep run refuses the manifest's args %q: %v", c.Args, err)
	}
	get := func(name string) string { v, _ := rc.Flags().GetString(name); return v }
	if get("cells") != "/data/cells.json" || get("out") != "/data/results" || get("trace") != "/data/traces/conv.jsonl" {
		t.Fatalf("cells %q out %q trace %q", get("cells"), get("out"), get("trace"))
	}
	i, n, err := parseShard(get("shard"), func(k string) string {
		if k == jobIndexEnv {
			return "7"
		}
		return ""
	})
	if err != nil || i != 7 || n != 8 {
		t.Fatalf("shard %q with index 7: %d/%d %v", get("shard"), i, n, err)
	}
}

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	tests := []struct {
		s, env string
		i, n   int
		err    string
	}{
		{"0/1", "", 0, 1, ""},
		{"2/3", "9", 2, 3, ""},
		{"/3", "1", 1, 3, ""},
		{"3/3", "", 0, 0, `--shard 3/3: index 3 is out of range 0..2 for 3 shards`},
		{"-1/3", "", 0, 0, `index -1 is out of range 0..2`},
		{"/3", "3", 0, 0, `JOB_COMPLETION_INDEX=3: index 3 is out of range 0..2 for 3 shards`},
		{"/3", "", 0, 0, `no index given and JOB_COMPLETION_INDEX is not set`},
		{"/3", "x", 0, 0, `JOB_COMPLETION_INDEX=x: index "x" is not a number`},
		{"3", "", 0, 0, `want I/N`},
		{"1/0", "", 0, 0, `N "0" is not a positive number of shards`},
	}
	for _, tt := range tests {
		i, n, err := parseShard(tt.s, env(tt.env))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q (env %q): %v, want %q", tt.s, tt.env, err, tt.err)
			}
			continue
		}
		if err != nil || i != tt.i || n != tt.n {
			t.Errorf("%q (env %q): %d/%d %v, want %d/%d", tt.s, tt.env, i, n, err, tt.i, tt.n)
		}
	}
}
