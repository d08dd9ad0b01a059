// -workers: the reference pachd runs its pipelines.
//
// pachd.NewFull keeps its Kubernetes state in a fake clientset: the PPS master
// writes each pipeline's ReplicationController there, and without a kubelet
// nothing ever runs it, so jobs stay JOB_CREATED. With -workers this process
// plays the rest of a small cluster around that fake clientset:
//
//   - kubelet.go watches the ReplicationControllers and runs each RC's
//     replicas as worker pods: the storage sidecar and the worker, as this
//     binary's pod-sidecar and pod-worker modes (podmodes.go), with the pod
//     template's environment;
//   - kubeapi.go answers the pods' own Kubernetes reads from the fake clientset;
//   - loki.go collects the containers' output, and pachd answers GetLogs from
//     it, as a pachd deployed by Pachyderm's Helm chart does (lokiLogging).
//
// setupWorkers adjusts the configuration before pachd.NewFull: what pachd
// copies into pod templates (database, pg-bouncer, etcd, worker port) must
// point at this process's services, and the fake cluster gets the secrets the
// template refers to. startWorkers then starts the services once pachd exists.
//
// This file and kubelet.go, kubeapi.go, loki.go, podmodes.go are the -workers
// mode of tests/realpachd (issue #18); main.go only calls in here.
package main

import (
	"context"
	"flag"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"unsafe"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pachyderm/pachyderm/v2/src/internal/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/errors"
	lokiclient "github.com/pachyderm/pachyderm/v2/src/internal/lokiutil/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachconfig"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachd"
)

// The secret the pod template's POSTGRES_PASSWORD refers to (selfPod in main.go).
const (
	postgresSecret    = "postgres"
	postgresSecretKey = "postgresql-password"
)

type workerFlags struct {
	enabled  bool
	imageEnv stringList // the "image's" environment: KEY=VALUE, repeatable
	workdir  string     // the user container's working directory ("image WORKDIR")
	podLogs  string     // keep pod logs here (default: in the state directory)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var workerOpts workerFlags

func init() {
	flag.BoolVar(&workerOpts.enabled, "workers", false, "run pipelines: start each pipeline's worker pods (sidecar + worker) as local processes")
	flag.Var(&workerOpts.imageEnv, "worker-env", "KEY=VALUE in every worker's environment, as a pipeline image's ENV would be (repeatable; PATH, HOME and LANG default to ours)")
	flag.StringVar(&workerOpts.workdir, "worker-dir", "/", "the working directory of user code (a pipeline image's WORKDIR)")
	flag.StringVar(&workerOpts.podLogs, "pod-logs", "", "directory for the pods' container logs (default: inside the temporary state directory)")
}

// workerSetup is what start needs from setupWorkers.
type workerSetup struct {
	cluster *cluster
}

// setupWorkers changes config and env for a pachd whose pipelines run.
func setupWorkers(o options, config *pachconfig.PachdFullConfiguration, env *pachd.Env, dbName, tmpdir string) (*workerSetup, error) {
	etcdEndpoints := env.EtcdClient.Endpoints()
	if len(etcdEndpoints) == 0 {
		return nil, errors.New("the etcd client has no endpoint")
	}
	u, err := url.Parse(etcdEndpoints[0])
	if err != nil {
		return nil, errors.Wrap(err, "etcd endpoint")
	}
	workerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	// Copied by pachd into the worker pods' environment (worker_rc.go).
	config.PostgresHost, config.PostgresPort = o.pgHost, o.pgPort
	config.PGBouncerHost, config.PGBouncerPort = o.pgHost, o.pgPort // no pg-bouncer: the database itself
	config.PostgresUser, config.PostgresDBName = o.pgUser, dbName
	config.EtcdHost, config.EtcdPort = u.Hostname(), u.Port()
	config.PPSWorkerPort = uint16(workerPort)
	config.LokiLogging = true
	loki, err := startLoki()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(loki.addr)
	config.LokiHost, config.LokiPort = host, port
	env.GetLokiClient = func() (*lokiclient.Client, error) {
		return &lokiclient.Client{Address: "http://" + loki.addr}, nil
	}
	env.K8sObjects = append(env.K8sObjects,
		&v1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: postgresSecret, Namespace: config.Namespace},
			Data:       map[string][]byte{postgresSecretKey: []byte(o.pgPassword)},
		},
		// The sidecar's envFrom; empty: local object storage needs no credentials.
		&v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: client.StorageSecretName, Namespace: config.Namespace}, Data: map[string][]byte{}},
	)
	logDir := workerOpts.podLogs
	if logDir == "" {
		logDir = filepath.Join(tmpdir, "pod-logs")
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, errors.Wrap(err, "pod log directory")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, errors.Wrap(err, "find this program")
	}
	cl := &cluster{
		self:       self,
		namespace:  config.Namespace,
		podsDir:    filepath.Join(tmpdir, "pods"),
		logDir:     logDir,
		etcdHost:   u.Hostname(),
		etcdPort:   u.Port(),
		workerPort: workerPort,
		imageEnv:   imageEnv(workerOpts.imageEnv),
		workdir:    workerOpts.workdir,
		loki:       loki,
		pods:       map[string]*pod{},
	}
	return &workerSetup{cluster: cl}, nil
}

// startWorkers starts the Kubernetes API, and the kubelet on pachd's fake clientset.
func (ws *workerSetup) start(ctx context.Context, pd *pachd.Full, pachPort int) error {
	kube, err := fakeClientset(pd)
	if err != nil {
		return err
	}
	ws.cluster.kube = kube
	ws.cluster.pachdPort = pachPort
	ws.cluster.kubeAPI = startKubeAPI(kube)
	return ws.cluster.run(ctx)
}

func (ws *workerSetup) stop(context.Context) error {
	ws.cluster.stop()
	return nil
}

// fakeClientset is the fake Kubernetes clientset pachd.NewFull made. Full
// keeps it in an unexported field and offers no accessor; Pachyderm's version
// is pinned (go.mod), so reading the field by name is stable, and a changed
// field is a clear error here.
func fakeClientset(pd *pachd.Full) (kubernetes.Interface, error) {
	field := reflect.ValueOf(pd).Elem().FieldByName("kubeClient")
	if !field.IsValid() || field.Type() != reflect.TypeOf((*kubernetes.Interface)(nil)).Elem() {
		return nil, errors.New("pachd.Full has no kubeClient field of type kubernetes.Interface (a different Pachyderm version?)")
	}
	kube, ok := reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Interface().(kubernetes.Interface)
	if !ok || kube == nil {
		return nil, errors.New("pachd.Full's kubeClient is not set yet")
	}
	return kube, nil
}

// imageEnv is the environment every container starts from: a few variables of
// ours (as an image's ENV), overridden by -worker-env.
func imageEnv(extra []string) []string {
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, name := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(name); ok {
			env[name] = v
		}
	}
	for _, kv := range extra {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, errors.Wrap(err, "find a free port")
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, errors.Wrap(l.Close(), "find a free port")
}
