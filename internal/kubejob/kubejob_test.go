package kubejob

import (
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decodeStrict reads a manifest as the Kubernetes API types, refusing
// unknown or duplicate fields (sigs.k8s.io/yaml's UnmarshalStrict: YAML to
// JSON, then encoding/json with DisallowUnknownFields).
func decodeStrict(t *testing.T, b []byte) *batchv1.Job {
	t.Helper()
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(b, &job); err != nil {
		t.Fatalf("strict decode: %v\n%s", err, b)
	}
	return &job
}

func TestJobRoundTripsStrictly(t *testing.T) {
	job, err := Build(Options{
		Name: "sweep-a", Image: "registry.example/kvscope:v1", Binary: "/usr/local/bin/kvscope",
		Shards: 6, Parallelism: 2, Retries: 3, PVC: "kv-data", Mount: "/data",
		Cells: "cells.json", Out: "/data/results", Trace: "traces/t.jsonl",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := YAML(job)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeStrict(t, b)
	if got.APIVersion != "batch/v1" || got.Kind != "Job" || got.Name != "sweep-a" {
		t.Fatalf("type/name: %s %s %s", got.APIVersion, got.Kind, got.Name)
	}
	s := got.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("completionMode %v, want Indexed", s.CompletionMode)
	}
	if *s.Completions != 6 || *s.Parallelism != 2 || *s.BackoffLimitPerIndex != 3 {
		t.Fatalf("completions %d parallelism %d backoffLimitPerIndex %d", *s.Completions, *s.Parallelism, *s.BackoffLimitPerIndex)
	}
	ps := s.Template.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatalf("restartPolicy %q: backoffLimitPerIndex needs Never", ps.RestartPolicy)
	}
	if len(ps.Containers) != 1 || len(ps.Volumes) != 1 {
		t.Fatalf("%d containers, %d volumes", len(ps.Containers), len(ps.Volumes))
	}
	c := ps.Containers[0]
	want := []string{"sweep", "run", "--cells", "/data/cells.json", "--shard", "/6", "--out", "/data/results", "--trace", "/data/traces/t.jsonl"}
	if c.Image != "registry.example/kvscope:v1" || !slices.Equal(c.Command, []string{"/usr/local/bin/kvscope"}) || !slices.Equal(c.Args, want) {
		t.Fatalf("container: image %q command %q args %q", c.Image, c.Command, c.Args)
	}
	v := ps.Volumes[0]
	if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "kv-data" {
		t.Fatalf("volume: %+v", v)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || c.VolumeMounts[0].MountPath != "/data" {
		t.Fatalf("mounts: %+v", c.VolumeMounts)
	}
	// The same bytes again: the manifest is deterministic.
	b2, _ := YAML(got)
	if string(b2) != string(b) {
		t.Fatalf("re-encoded manifest differs:\n%s\n---\n%s", b, b2)
	}
}

// TestStrictDecodeRefusesUnknownFields shows the check can fail: a
// misspelt field is refused by the strict decode the test above relies on.
func TestStrictDecodeRefusesUnknownFields(t *testing.T) {
	job, err := Build(Options{Name: "x", Image: "i", Binary: "kvscope", Shards: 2, PVC: "p", Mount: "/d", Cells: "c.json", Out: "r"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := YAML(job)
	bad := strings.Replace(string(b), "completionMode:", "completionMod:", 1)
	var j batchv1.Job
	if err := yaml.UnmarshalStrict([]byte(bad), &j); err == nil || !strings.Contains(err.Error(), `unknown field "completionMod"`) {
		t.Fatalf("misspelt field: %v", err)
	}
	if *job.Spec.Parallelism != 2 {
		t.Fatalf("parallelism defaults to the shards: %d", *job.Spec.Parallelism)
	}
}

func TestBuildErrors(t *testing.T) {
	ok := Options{Name: "x", Image: "i", Binary: "kvscope", Shards: 2, PVC: "p", Mount: "/d", Cells: "c.json", Out: "r"}
	tests := []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.Image = "" }, "--image: give the image"},
		{func(o *Options) { o.Shards = 0 }, "--shards 0: must be at least 1"},
		{func(o *Options) { o.Parallelism = 3 }, "--parallelism 3: must be 1..2"},
		{func(o *Options) { o.Retries = -1 }, "--retries -1"},
		{func(o *Options) { o.Name = "Bad_Name" }, `--name "Bad_Name": a lowercase RFC 1123 label`},
		{func(o *Options) { o.PVC = "" }, `--pvc ""`},
		{func(o *Options) { o.Mount = "data" }, `--mount "data": want an absolute path`},
	}
	for _, tt := range tests {
		o := ok
		tt.edit(&o)
		if _, err := Build(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", o, err, tt.want)
		}
	}
}
