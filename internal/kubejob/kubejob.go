package kubejob

import (
	"fmt"
	"path"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Options describe the Job.
type Options struct {
	// Name is the Job's name (a DNS label).
	Name string
	// Image holds the kvscope binary at Binary.
	Image  string
	Binary string
	// Shards is the number of indexes (completions); Parallelism the
	// pods at once (Shards when 0).
	Shards      int
	Parallelism int
	// Retries is backoffLimitPerIndex: how many times a failed index runs
	// again.
	Retries int
	// PVC is the claim mounted at Mount in every pod.
	PVC   string
	Mount string
	// Cells and Out are the cells file and the results folder; Trace,
	// when set, overrides the trace path the cells were planned with.
	// Relative paths are under Mount.
	Cells string
	Out   string
	Trace string
}

// Build returns the Job, or an error naming the option that is not valid.
func Build(o Options) (*batchv1.Job, error) {
	if o.Image == "" {
		return nil, fmt.Errorf("--image: give the image that holds the kvscope binary (kvscope ships none)")
	}
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return nil, fmt.Errorf("--name %q: %s", o.Name, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(o.PVC); len(errs) > 0 {
		return nil, fmt.Errorf("--pvc %q: %s", o.PVC, errs[0])
	}
	if o.Shards < 1 {
		return nil, fmt.Errorf("--shards %d: must be at least 1", o.Shards)
	}
	if o.Parallelism == 0 {
		o.Parallelism = o.Shards
	}
	if o.Parallelism < 1 || o.Parallelism > o.Shards {
		return nil, fmt.Errorf("--parallelism %d: must be 1..%d (the shards)", o.Parallelism, o.Shards)
	}
	if o.Retries < 0 {
		return nil, fmt.Errorf("--retries %d: must be at least 0", o.Retries)
	}
	if !path.IsAbs(o.Mount) {
		return nil, fmt.Errorf("--mount %q: want an absolute path", o.Mount)
	}
	under := func(p string) string {
		if path.IsAbs(p) {
			return p
		}
		return path.Join(o.Mount, p)
	}
	args := []string{"sweep", "run", "--cells", under(o.Cells), "--shard", "/" + strconv.Itoa(o.Shards), "--out", under(o.Out)}
	if o.Trace != "" {
		args = append(args, "--trace", under(o.Trace))
	}
	completions := int32(o.Shards)
	parallelism := int32(o.Parallelism)
	retries := int32(o.Retries)
	indexed := batchv1.IndexedCompletion
	labels := map[string]string{"app.kubernetes.io/name": "kvscope", "app.kubernetes.io/component": "sweep"}
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels},
		Spec: batchv1.JobSpec{
			CompletionMode:       &indexed,
			Completions:          &completions,
			Parallelism:          &parallelism,
			BackoffLimitPerIndex: &retries,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name:         "kvscope",
						Image:        o.Image,
						Command:      []string{o.Binary},
						Args:         args,
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: o.Mount}},
					}},
					Volumes: []corev1.Volume{{
						Name: "data",
						VolumeSource: corev1.VolumeSource{
							PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: o.PVC},
						},
					}},
				},
			},
		},
	}
	return job, nil
}

// YAML writes the Job as YAML.
func YAML(job *batchv1.Job) ([]byte, error) {
	return yaml.Marshal(job)
}
