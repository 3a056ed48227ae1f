// Package kubejob builds the Kubernetes batch/v1 Job that runs a sweep's
// shards (`kvscope sweep manifest`): completion mode Indexed, one index per
// shard, each pod running `kvscope sweep run --shard /N`, which reads its
// index from JOB_COMPLETION_INDEX (the Job controller sets it in every
// pod of an Indexed Job: kubernetes.io, "Indexed Job for Parallel
// Processing with Static Work Assignment"). The cells file, the trace and
// the results live on one PersistentVolumeClaim mounted in every pod. The
// Job is built from the Kubernetes API's own types (k8s.io/api) and
// written as YAML through sigs.k8s.io/yaml, so its field names and shapes
// are the API's. A failed index is retried alone (backoffLimitPerIndex,
// which needs restartPolicy Never; stable since Kubernetes 1.33), and a
// retried shard skips the cells whose results it already wrote.
//
// kvscope ships no image: the user's image must hold the kvscope binary.
// This package knows nothing of traces or reports.
package kubejob
