// The kubelet of -workers: ReplicationControllers in pachd's fake clientset
// become worker pods made of local processes.
//
// For every RC in the namespace, as many pods run as its spec asks
// (pachd scales pipelines up and down by changing the replicas). A pod is
// the pod template's two containers, "user" (the worker) and "storage" (the
// sidecar), started as this binary's pod-worker and pod-sidecar modes with
// the template's environment resolved as a kubelet would (secret and field
// references, the sidecar's envFrom secret), plus the service variables a
// cluster provides (pachd's peer service, etcd, the Kubernetes API). A Pod
// object with the template's labels and a Running status goes into the fake
// clientset, so pachd's pod listing, the pods' own reads and the RC's ready
// count agree with what runs. When an RC goes away or shrinks, its pods are
// killed (the template's grace period is 0) and their objects deleted.
//
// All pods share the host's network, so each pod gets what a pod network
// would make unique: a loopback address of its own as pod IP (the worker
// listens there, on the one worker port pachd dials), and a free PEER_PORT
// through which the worker reaches its own sidecar. The worker runs in new
// mount and PID namespaces (with a user namespace when we are not root): its
// /pfs is the pod's private directory (podmodes.go), and everything user code
// started dies with the worker, as in a container. Images are not pulled:
// user code runs with the host's programs, in the environment of -worker-env.
//
// Containers that exit are restarted (restartPolicy Always), with a growing
// delay. Output lines go to the pod's log files and to the Loki of loki.go.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pachyderm/pachyderm/v2/src/internal/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/errors"
	"github.com/pachyderm/pachyderm/v2/src/internal/log"
)

const resyncEvery = time.Second

type cluster struct {
	self       string // this binary
	namespace  string
	podsDir    string
	logDir     string
	etcdHost   string
	etcdPort   string
	pachdPort  int
	workerPort int
	imageEnv   []string
	workdir    string
	kube       kubernetes.Interface
	kubeAPI    *httptest.Server
	loki       *miniLoki

	mu      sync.Mutex
	pods    map[string]*pod // by pod name
	ips     map[string]bool
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

type pod struct {
	name, rc string
	ip       string
	peerPort int
	dir      string
	obj      *v1.Pod
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	procs    map[string]*os.Process // running container processes, by container name
	restarts map[string]int32
}

// run starts the watch loop; it returns once the first resync is done.
func (c *cluster) run(ctx context.Context) error {
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.ips = map[string]bool{}
	c.done = make(chan struct{})
	if err := os.MkdirAll(c.podsDir, 0o755); err != nil {
		return errors.Wrap(err, "pods directory")
	}
	w, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Watch(c.ctx, metav1.ListOptions{})
	if err != nil {
		return errors.Wrap(err, "watch replication controllers")
	}
	c.resync()
	go func() {
		defer close(c.done)
		defer w.Stop()
		tick := time.NewTicker(resyncEvery)
		defer tick.Stop()
		for {
			select {
			case <-c.ctx.Done():
				// The server is stopping: pods go first, while pachd still answers.
				c.killAll()
				return
			case _, ok := <-w.ResultChan():
				if !ok {
					return
				}
			case <-tick.C:
			}
			c.resync()
		}
	}()
	return nil
}

// stop kills every pod and stops the cluster's servers.
func (c *cluster) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
	c.killAll()
	if c.kubeAPI != nil {
		c.kubeAPI.Close()
	}
	c.loki.close()
}

func (c *cluster) killAll() {
	c.mu.Lock()
	c.stopped = true
	pods := make([]*pod, 0, len(c.pods))
	for _, p := range c.pods {
		pods = append(pods, p)
	}
	c.pods = map[string]*pod{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func(p *pod) { defer wg.Done(); c.killPod(p) }(p)
	}
	wg.Wait()
}

// resync makes the running pods match the RCs' replicas.
func (c *cluster) resync() {
	ctx := c.ctx
	rcs, err := c.kube.CoreV1().ReplicationControllers(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		if ctx.Err() == nil {
			log.Error(ctx, "kubelet: list replication controllers", zap.Error(err))
		}
		return
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	byRC := map[string][]*pod{}
	for _, p := range c.pods {
		byRC[p.rc] = append(byRC[p.rc], p)
	}
	var start []*v1.ReplicationController
	var kill []*pod
	seen := map[string]bool{}
	for i := range rcs.Items {
		rc := &rcs.Items[i]
		seen[rc.Name] = true
		want := 1
		if rc.Spec.Replicas != nil {
			want = int(*rc.Spec.Replicas)
		}
		have := byRC[rc.Name]
		sort.Slice(have, func(i, j int) bool { return have[i].name < have[j].name })
		for n := len(have); n < want; n++ {
			start = append(start, rc)
		}
		if len(have) > want {
			kill = append(kill, have[want:]...)
		}
	}
	for name, pods := range byRC {
		if !seen[name] {
			kill = append(kill, pods...)
		}
	}
	for _, p := range kill {
		delete(c.pods, p.name)
	}
	c.mu.Unlock()

	for _, p := range kill {
		log.Info(ctx, "kubelet: stopping pod", zap.String("pod", p.name))
		c.killPod(p)
	}
	for _, rc := range start {
		if err := c.startPod(rc); err != nil {
			log.Error(ctx, "kubelet: start pod", zap.String("rc", rc.Name), zap.Error(err))
		}
	}
	for i := range rcs.Items {
		c.updateRCStatus(&rcs.Items[i])
	}
}

func (c *cluster) updateRCStatus(rc *v1.ReplicationController) {
	c.mu.Lock()
	n := int32(0)
	for _, p := range c.pods {
		if p.rc == rc.Name {
			n++
		}
	}
	c.mu.Unlock()
	if rc.Status.Replicas == n && rc.Status.ReadyReplicas == n && rc.Status.AvailableReplicas == n {
		return
	}
	rc = rc.DeepCopy()
	rc.Status.Replicas, rc.Status.ReadyReplicas, rc.Status.AvailableReplicas = n, n, n
	if _, err := c.kube.CoreV1().ReplicationControllers(c.namespace).UpdateStatus(c.ctx, rc, metav1.UpdateOptions{}); err != nil && c.ctx.Err() == nil {
		log.Info(c.ctx, "kubelet: update rc status", zap.String("rc", rc.Name), zap.Error(err))
	}
}

func (c *cluster) startPod(rc *v1.ReplicationController) error {
	if rc.Spec.Template == nil {
		return errors.Errorf("rc %s has no pod template", rc.Name)
	}
	name := rc.Name + "-" + randomSuffix()
	ip, err := c.podIP()
	if err != nil {
		return err
	}
	peerPort, err := freePort()
	if err != nil {
		return err
	}
	dir := filepath.Join(c.podsDir, name)
	for _, d := range []string{dir, filepath.Join(dir, "root"), filepath.Join(dir, "pfs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return errors.Wrapf(err, "make %s", d)
		}
	}
	tmpl := rc.Spec.Template
	now := metav1.Now()
	obj := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   c.namespace,
			Labels:      tmpl.Labels,
			Annotations: tmpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "ReplicationController", Name: rc.Name, UID: rc.UID,
			}},
			CreationTimestamp: now,
		},
		Spec: *tmpl.Spec.DeepCopy(),
		Status: v1.PodStatus{
			Phase:     v1.PodRunning,
			HostIP:    "127.0.0.1",
			PodIP:     ip,
			PodIPs:    []v1.PodIP{{IP: ip}},
			StartTime: &now,
			Conditions: []v1.PodCondition{
				{Type: v1.PodScheduled, Status: v1.ConditionTrue},
				{Type: v1.PodReady, Status: v1.ConditionTrue},
			},
		},
	}
	for _, ct := range tmpl.Spec.Containers {
		obj.Status.ContainerStatuses = append(obj.Status.ContainerStatuses, v1.ContainerStatus{
			Name:    ct.Name,
			Ready:   true,
			Image:   ct.Image,
			ImageID: ct.Image, // no registry here, so no digest: the image as named
			State:   v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: now}},
		})
	}
	obj.Spec.NodeName = "realpachd"
	if _, err := c.kube.CoreV1().Pods(c.namespace).Create(c.ctx, obj, metav1.CreateOptions{}); err != nil {
		return errors.Wrapf(err, "create pod %s", name)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	p := &pod{name: name, rc: rc.Name, ip: ip, peerPort: peerPort, dir: dir, obj: obj, cancel: cancel,
		procs: map[string]*os.Process{}, restarts: map[string]int32{}}
	c.mu.Lock()
	c.pods[name] = p
	c.mu.Unlock()
	log.Info(c.ctx, "kubelet: starting pod", zap.String("pod", name), zap.String("ip", ip), zap.Int("peerPort", peerPort))
	for _, ct := range tmpl.Spec.Containers {
		env, err := c.containerEnv(obj, &ct, p)
		if err != nil {
			cancel()
			return errors.Wrapf(err, "pod %s container %s", name, ct.Name)
		}
		mode := sidecarMode
		if ct.Name == client.PPSWorkerUserContainerName {
			mode = workerMode
		}
		p.wg.Add(1)
		go c.keepRunning(ctx, p, ct.Name, mode, env)
	}
	return nil
}

// keepRunning runs one container until the pod stops, restarting it when it exits.
func (c *cluster) keepRunning(ctx context.Context, p *pod, container, mode string, env []string) {
	defer p.wg.Done()
	labels := map[string]string{"container": container, "pod": p.name, "namespace": c.namespace}
	for k, v := range p.obj.Labels {
		labels[k] = v
	}
	stream := c.loki.newStream(labels)
	logFile, err := os.OpenFile(filepath.Join(c.logDir, p.name+"."+container+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Error(ctx, "kubelet: pod log", zap.Error(err))
		return
	}
	defer logFile.Close()
	delay := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := c.runContainer(ctx, p, container, mode, env, stream, logFile)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.restarts[container]++
		p.mu.Unlock()
		log.Info(ctx, "kubelet: container exited; restarting", zap.String("pod", p.name), zap.String("container", container), zap.Error(err))
		if time.Since(started) > time.Minute {
			delay = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if delay < 16*time.Second {
			delay *= 2
		}
	}
}

func (c *cluster) runContainer(ctx context.Context, p *pod, container, mode string, env []string, stream *lokiStream, logFile io.Writer) error {
	cmd := exec.Command(c.self, mode)
	cmd.Env = env
	cmd.Dir = p.dir
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return errors.EnsureStack(err)
	}
	cmd.Stderr = cmd.Stdout // one pipe: a container's log has both, in order
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if mode == workerMode {
		attr.Cloneflags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID
		if os.Geteuid() != 0 {
			attr.Cloneflags |= syscall.CLONE_NEWUSER
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			attr.GidMappingsEnableSetgroups = false
		}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return errors.Wrapf(err, "start %s", mode)
	}
	p.mu.Lock()
	p.procs[container] = cmd.Process
	p.mu.Unlock()
	scanner := bufio.NewScanner(out)
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		c.loki.push(stream, line)
		_, _ = io.WriteString(logFile, line+"\n")
	}
	_, _ = io.Copy(io.Discard, out)
	err = cmd.Wait()
	p.mu.Lock()
	delete(p.procs, container)
	p.mu.Unlock()
	return errors.EnsureStack(err)
}

// killPod kills the pod's processes (grace period 0), deletes its object and directory.
func (c *cluster) killPod(p *pod) {
	p.cancel()
	p.mu.Lock()
	for _, proc := range p.procs {
		_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	p.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.kube.CoreV1().Pods(c.namespace).Delete(ctx, p.name, metav1.DeleteOptions{}); err != nil {
		log.Info(ctx, "kubelet: delete pod", zap.String("pod", p.name), zap.Error(err))
	}
	c.mu.Lock()
	delete(c.ips, p.ip)
	c.mu.Unlock()
	if err := os.RemoveAll(p.dir); err != nil {
		log.Info(ctx, "kubelet: remove pod directory", zap.String("pod", p.name), zap.Error(err))
	}
}

// containerEnv is a container's environment as a kubelet would give it.
func (c *cluster) containerEnv(obj *v1.Pod, ct *v1.Container, p *pod) ([]string, error) {
	env := map[string]string{}
	set := func(k, v string) { env[k] = v }
	for _, kv := range c.imageEnv {
		if i := strings.IndexByte(kv, '='); i > 0 {
			set(kv[:i], kv[i+1:])
		}
	}
	set("HOSTNAME", obj.Name)
	// Service variables of the cluster's namespace.
	pachd := strconv.Itoa(c.pachdPort)
	for _, svc := range []string{"PACHD", "PACHD_PEER"} {
		set(svc+"_SERVICE_HOST", "127.0.0.1")
		set(svc+"_SERVICE_PORT", pachd)
	}
	set("ETCD_SERVICE_HOST", c.etcdHost)
	set("ETCD_SERVICE_PORT", c.etcdPort)
	// serviceenv's fallback Kubernetes client: https://ADDR:PORT, unverified TLS.
	apiAddr := c.kubeAPI.Listener.Addr().(*net.TCPAddr)
	set("KUBERNETES_PORT_443_TCP_ADDR", apiAddr.IP.String())
	set("KUBERNETES_PORT", strconv.Itoa(apiAddr.Port))
	for _, from := range ct.EnvFrom {
		if from.SecretRef == nil {
			continue
		}
		secret, err := c.kube.CoreV1().Secrets(c.namespace).Get(c.ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				continue
			}
			return nil, errors.Wrapf(err, "envFrom secret %s", from.SecretRef.Name)
		}
		for k, v := range secret.Data {
			set(from.Prefix+k, string(v))
		}
	}
	for _, e := range ct.Env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			secret, err := c.kube.CoreV1().Secrets(c.namespace).Get(c.ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				return nil, errors.Wrapf(err, "env %s: secret %s", e.Name, ref.Name)
			}
			v, ok := secret.Data[ref.Key]
			if !ok {
				return nil, errors.Errorf("env %s: secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			set(e.Name, string(v))
		case e.ValueFrom.FieldRef != nil:
			switch path := e.ValueFrom.FieldRef.FieldPath; path {
			case "metadata.name":
				set(e.Name, obj.Name)
			case "metadata.namespace":
				set(e.Name, obj.Namespace)
			case "status.podIP":
				set(e.Name, p.ip)
			case "status.hostIP":
				set(e.Name, "127.0.0.1")
			case "spec.nodeName":
				set(e.Name, obj.Spec.NodeName)
			default:
				return nil, errors.Errorf("env %s: field %s is not supported", e.Name, path)
			}
		default:
			// resourceFieldRef / configMapKeyRef: pachd's templates use neither.
			return nil, errors.Errorf("env %s: unsupported valueFrom", e.Name)
		}
	}
	// The one network is shared: the pod's sidecar listens on a port of its own.
	set("PEER_PORT", strconv.Itoa(p.peerPort))
	if ct.Name != client.PPSWorkerUserContainerName {
		set("PROMETHEUS_PORT", "0")
	} else {
		set(podRootEnv, filepath.Join(p.dir, "root"))
		set(podPFSEnv, filepath.Join(p.dir, "pfs"))
		set(podCwdEnv, c.workdir)
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out, nil
}

// podIP is a loopback address no other pod of this process uses, on which
// the worker port is free (other reference servers may run pods too).
func (c *cluster) podIP() (string, error) {
	for attempt := 0; attempt < 100; attempt++ {
		n, err := rand.Int(rand.Reader, big.NewInt(1<<22))
		if err != nil {
			return "", errors.EnsureStack(err)
		}
		v := n.Int64()
		ip := fmt.Sprintf("127.%d.%d.%d", 64+(v>>16)&63, (v>>8)&255, 1+(v&255)%254)
		c.mu.Lock()
		taken := c.ips[ip]
		c.mu.Unlock()
		if taken {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(c.workerPort)))
		if err != nil {
			continue
		}
		_ = l.Close()
		c.mu.Lock()
		c.ips[ip] = true
		c.mu.Unlock()
		return ip, nil
	}
	return "", errors.New("no free loopback address for a pod")
}

func randomSuffix() string {
	const letters = "bcdfghjklmnpqrstvwxz2456789" // as Kubernetes' generated names
	b := make([]byte, 5)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		if err != nil {
			panic(err)
		}
		b[i] = letters[n.Int64()]
	}
	return string(b)
}
