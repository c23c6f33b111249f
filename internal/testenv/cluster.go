package testenv

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The simulated cluster: envtest's kube-apiserver and etcd, plus
// kube-controller-manager (Deployments, ReplicaSets, CronJobs, Jobs, volume
// binding, garbage collection), kube-scheduler and KWOK, which plays the
// kubelet of fake nodes: it marks scheduled pods Running and Ready and
// completes the pods of Jobs. Everything listens on loopback and is built by
// hack/build-control-plane.sh. No container runs: a pod is a record whose
// status KWOK writes.

//go:embed kwok-stages.yaml
var kwokStages []byte

// kwokNodeAnnotation marks the nodes KWOK manages.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// Cluster is a running simulated cluster.
type Cluster struct {
	*Env
	// Nodes are the names of the KWOK nodes.
	Nodes []string
	// LogDir holds each component's log.
	LogDir string
	// Started is how long the cluster took to start, until its nodes were Ready.
	Started time.Duration

	procs []proc
}

// proc is a running component; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartCluster starts a simulated cluster with nodes KWOK nodes and the CRDs
// in crdDirs.
func StartCluster(nodes int, crdDirs ...string) (*Cluster, error) {
	begin := time.Now()
	env, err := Start(crdDirs...)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Env: env}
	if c.LogDir, err = os.MkdirTemp("", "surveyguard-cluster-"); err != nil {
		return nil, errors.Join(err, env.Stop())
	}
	if err := c.startComponents(); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	if err := c.addNodes(nodes); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	c.Started = time.Since(begin)
	return c, nil
}

func (c *Cluster) startComponents() error {
	stages := filepath.Join(c.LogDir, "kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o600); err != nil {
		return err
	}
	kc := "--kubeconfig=" + c.Kubeconfig
	components := []struct {
		bin  string
		args []string
	}{
		{"kube-controller-manager", []string{kc, "--leader-elect=false", "--secure-port=0",
			// No kubelet heartbeats: the node lifecycle controller would
			// taint KWOK's nodes unreachable. No service-account tokens:
			// the API server runs without the ServiceAccount admission.
			"--controllers=*,-node-lifecycle-controller,-serviceaccount-token-controller",
			"--concurrent-cron-job-syncs=2", "--v=1"}},
		{"kube-scheduler", []string{kc, "--leader-elect=false", "--secure-port=0", "--v=1"}},
		{"kwok", []string{kc, "--config=" + stages,
			"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			"--cidr=10.0.0.1/24", "--node-ip=10.0.0.1", "--v=INFO"}},
	}
	for _, comp := range components {
		if err := c.run(comp.bin, comp.args...); err != nil {
			return err
		}
	}
	return nil
}

// run starts one component with its output in LogDir/<bin>.log.
func (c *Cluster) run(bin string, args ...string) error {
	logFile, err := os.Create(filepath.Join(c.LogDir, bin+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.AssetsDir, bin), args...) //nolint:gosec // the control plane built by hack/build-control-plane.sh
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	p := proc{cmd: cmd, done: make(chan struct{})}
	c.procs = append(c.procs, p)
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return nil
}

// addNodes registers KWOK nodes and waits until KWOK reports them Ready.
func (c *Cluster) addNodes(n int) error {
	k, err := client.New(c.Config, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok",
			},
		}}
		if err := k.Create(ctx, node); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		c.Nodes = append(c.Nodes, name)
	}
	for _, name := range c.Nodes {
		for {
			node := &corev1.Node{}
			if err := k.Get(ctx, client.ObjectKey{Name: name}, node); err == nil && nodeReady(node) {
				// The API server taints a new node not-ready; the node
				// lifecycle controller, which would lift it, is off.
				patch := client.MergeFrom(node.DeepCopy())
				node.Spec.Taints = nil
				if err := k.Patch(ctx, node, patch); err != nil {
					return fmt.Errorf("untainting node %s: %w", name, err)
				}
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s did not become Ready (KWOK's log: %s)", name, filepath.Join(c.LogDir, "kwok.log"))
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// HostPathVolume is a PersistentVolume of size on the local disk with no
// storage class, which the controller manager binds to a claim that names no
// class (the cluster has no provisioner).
func HostPathVolume(name, dir string, size resource.Quantity) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
		},
	}
}

// Stop stops KWOK, the scheduler, the controller manager, the API server and
// etcd. The logs stay in LogDir when KEEP_CLUSTER_LOGS is set.
func (c *Cluster) Stop() error {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	err := c.Env.Stop()
	if os.Getenv("KEEP_CLUSTER_LOGS") == "" {
		_ = os.RemoveAll(c.LogDir)
	}
	return err
}
