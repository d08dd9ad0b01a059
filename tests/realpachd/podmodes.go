// The two containers of a pipeline's worker pod, as modes of this same binary
// (so the worker and the storage sidecar come out of the one build of the
// reference server): `realpachd pod-sidecar` and `realpachd pod-worker`.
// kubelet.go starts them with the environment of the pod template pachd wrote
// into its ReplicationController; here each mode hands that environment to
// Pachyderm's own code, as the images' entry points do in a cluster:
//
//   - pod-sidecar runs pachd's sidecar mode (pachd.SidecarMode, what
//     `pachd --mode sidecar` runs): PFS, storage, auth and the sidecar PPS
//     API, on the pod's PEER_PORT.
//   - pod-worker is the worker binary's wiring (src/server/cmd/worker is a
//     main package, so it cannot be imported): the service environment from
//     serviceenv.InitWithKube, the pipeline's spec by PPS_SPEC_COMMIT,
//     worker.NewWorker with root "/", the worker gRPC API, and the etcd key
//     under which pachd finds the worker. Before any of that it enters the
//     pod's own root: its mount namespace (made by kubelet.go) gets a new
//     root whose /pfs is the pod's private directory, so user code reads
//     /pfs/<input> and writes /pfs/out exactly as in a cluster, and two pods
//     never see each other's /pfs.
//
// One difference from a cluster, forced by all pods sharing the host's
// network: the worker listens on its pod IP (a loopback address of its own,
// PPS_WORKER_IP) instead of on every address, so all workers can use the one
// PPS_WORKER_GRPC_PORT pachd dials.
//
// Nothing here decides what Pachyderm does; it only starts Pachyderm's code.
package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	etcd "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	debugclient "github.com/pachyderm/pachyderm/v2/src/debug"
	"github.com/pachyderm/pachyderm/v2/src/internal/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/cmdutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/errors"
	"github.com/pachyderm/pachyderm/v2/src/internal/grpcutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/log"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachconfig"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachd"
	"github.com/pachyderm/pachyderm/v2/src/internal/pctx"
	"github.com/pachyderm/pachyderm/v2/src/internal/ppsutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/restart"
	"github.com/pachyderm/pachyderm/v2/src/internal/serviceenv"
	_ "github.com/pachyderm/pachyderm/v2/src/internal/task/taskprotos"
	"github.com/pachyderm/pachyderm/v2/src/pfs"
	"github.com/pachyderm/pachyderm/v2/src/pps"
	debugserver "github.com/pachyderm/pachyderm/v2/src/server/debug/server"
	"github.com/pachyderm/pachyderm/v2/src/server/worker"
	workerserver "github.com/pachyderm/pachyderm/v2/src/server/worker/server"
	"github.com/pachyderm/pachyderm/v2/src/version"
	"github.com/pachyderm/pachyderm/v2/src/version/versionpb"
	workerapi "github.com/pachyderm/pachyderm/v2/src/worker"
)

const (
	sidecarMode = "pod-sidecar"
	workerMode  = "pod-worker"
	// Set by kubelet.go for the worker only; read and removed before
	// Pachyderm's code (and so user code) sees the environment.
	podRootEnv = "REALPACHD_POD_ROOT" // an empty directory to build the pod's root in
	podPFSEnv  = "REALPACHD_POD_PFS"  // the pod's /pfs on the host
	podCwdEnv  = "REALPACHD_POD_CWD"  // the user container's working directory
	// How long the worker's etcd key outlives the worker (as Pachyderm's worker).
	workerLease = 10 * time.Second
)

// podMain runs a container mode when the first argument names one, and then
// never returns; otherwise it returns false and main runs the server.
func podMain() bool {
	if len(os.Args) < 2 || (os.Args[1] != sidecarMode && os.Args[1] != workerMode) {
		return false
	}
	if os.Args[1] == sidecarMode {
		log.InitPachdLogger()
		ctx := pctx.Background("")
		cmdutil.Main(ctx, pachd.SidecarMode, &pachconfig.PachdFullConfiguration{})
	} else {
		if err := enterPodRoot(); err != nil {
			fmt.Fprintf(os.Stderr, "realpachd %s: %v\n", workerMode, err)
			os.Exit(2)
		}
		log.InitWorkerLogger()
		ctx := pctx.Child(pctx.Background(""), "", pctx.WithFields(pps.WorkerIDField(os.Getenv(client.PPSPodNameEnv))))
		// The worker image's entry point also makes Pachyderm's binaries reachable.
		os.Setenv("PATH", os.Getenv("PATH")+":/pach-bin")
		cmdutil.Main(ctx, runWorker, &pachconfig.WorkerFullConfiguration{})
	}
	os.Exit(0)
	return true
}

// enterPodRoot makes this process's root a copy of the host's (recursive bind
// mounts of every top-level entry) plus the pod's own /pfs, and changes into
// it. kubelet.go started us in a mount namespace of our own, so none of this
// is visible outside the pod; the namespace goes away with its last process.
func enterPodRoot() error {
	root, pfsDir, cwd := os.Getenv(podRootEnv), os.Getenv(podPFSEnv), os.Getenv(podCwdEnv)
	for _, name := range []string{podRootEnv, podPFSEnv, podCwdEnv} {
		os.Unsetenv(name)
	}
	if root == "" || pfsDir == "" {
		return errors.Errorf("%s and %s must name the pod's directories", podRootEnv, podPFSEnv)
	}
	// Our mounts must not propagate back to the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return errors.Wrap(err, "make the mount namespace private")
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "mode=0755"); err != nil {
		return errors.Wrapf(err, "mount a tmpfs on %s", root)
	}
	entries, err := os.ReadDir("/")
	if err != nil {
		return errors.Wrap(err, "read /")
	}
	for _, e := range entries {
		name := e.Name()
		if name == "pfs" {
			continue
		}
		src, dst := "/"+name, filepath.Join(root, name)
		info, err := os.Lstat(src)
		if err != nil {
			continue // gone meanwhile
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return errors.Wrapf(err, "read link %s", src)
			}
			if err := os.Symlink(target, dst); err != nil {
				return errors.Wrapf(err, "link %s", dst)
			}
			continue
		case info.IsDir():
			err = os.Mkdir(dst, 0o755)
		default:
			var f *os.File
			if f, err = os.Create(dst); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			return errors.Wrapf(err, "make %s", dst)
		}
		if name == "proc" {
			// The worker is the first process of a PID namespace of its own:
			// a procfs of that namespace, so it finds its user code's processes.
			if err := unix.Mount("proc", dst, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return errors.Wrap(err, "mount /proc")
			}
			continue
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return errors.Wrapf(err, "bind %s", src)
		}
	}
	pfsMount := filepath.Join(root, "pfs")
	if err := os.Mkdir(pfsMount, 0o755); err != nil {
		return errors.Wrapf(err, "make %s", pfsMount)
	}
	if err := unix.Mount(pfsDir, pfsMount, "", unix.MS_BIND, ""); err != nil {
		return errors.Wrapf(err, "bind %s at /pfs", pfsDir)
	}
	// Go's threads share one filesystem context, so this moves the whole process.
	if err := unix.Chroot(root); err != nil {
		return errors.Wrapf(err, "chroot %s", root)
	}
	if cwd == "" {
		cwd = "/"
	}
	return errors.Wrapf(os.Chdir(cwd), "chdir %s", cwd)
}

// runWorker is what the worker binary does with its configuration.
func runWorker(ctx context.Context, config *pachconfig.WorkerFullConfiguration) error {
	env := serviceenv.InitWithKube(ctx, pachconfig.NewConfiguration(config))
	restarter, err := restart.New(ctx, env.GetDBClient(), env.GetPostgresListener())
	if err != nil {
		return errors.Wrap(err, "restart notifier")
	}
	go func() {
		if err := restarter.RestartWhenRequired(ctx); err != nil {
			log.Error(ctx, "restart notifier failed", zap.Error(err))
		}
	}()

	pachClient := env.GetPachClient(ctx) // the sidecar, on 127.0.0.1:PEER_PORT
	pipeline := &pps.Pipeline{Project: &pfs.Project{Name: config.PPSProjectName}, Name: config.PPSPipelineName}
	pipelineInfo, err := ppsutil.GetWorkerPipelineInfo(pachClient, env.GetDBClient(), env.GetPostgresListener(), pipeline, config.PPSSpecCommitID)
	if err != nil {
		return errors.Wrapf(err, "worker: pipeline %s at spec commit %s", pipeline, config.PPSSpecCommitID)
	}
	ctx = pachClient.AddMetadata(ctx)
	w, err := worker.NewWorker(pctx.Child(ctx, ""), env, pachClient, pipelineInfo, "/")
	if err != nil {
		return errors.Wrap(err, "worker")
	}

	server, err := grpcutil.NewServer(ctx, false)
	if err != nil {
		return errors.Wrap(err, "worker gRPC server")
	}
	workerapi.RegisterWorkerServer(server.Server, w.APIServer)
	versionpb.RegisterAPIServer(server.Server, version.NewAPIServer(version.Version, version.APIServerOptions{}))
	debugclient.RegisterDebugServer(server.Server, debugserver.NewDebugServer(debugserver.Env{
		DB:                   env.GetDBClient(),
		SidecarClient:        pachClient,
		GetLokiClient:        env.GetLokiClient,
		Name:                 config.PodName,
		GetPachClient:        pachClient.WithCtx,
		GetKubeClient:        env.GetKubeClient,
		GetDynamicKubeClient: env.GetDynamicKubeClient,
		Config:               *env.Config(),
		TaskService:          env.GetTaskService("debug"),
	}))

	// pachd finds the pipeline's workers under this key; the lease removes it
	// when the worker dies.
	etcdClient := env.GetEtcdClient()
	key := path.Join(config.PPSEtcdPrefix, workerserver.WorkerEtcdPrefix, ppsutil.PipelineRcName(pipelineInfo), config.PPSWorkerIP)
	grantCtx, cancel := context.WithTimeout(ctx, workerLease)
	lease, err := etcdClient.Grant(grantCtx, int64(workerLease/time.Second))
	cancel()
	if err != nil {
		return errors.Wrap(err, "worker: etcd lease")
	}
	keepAlive, err := etcdClient.KeepAlive(ctx, lease.ID)
	if err != nil {
		return errors.Wrap(err, "worker: etcd keepalive")
	}
	go func() {
		for range keepAlive {
		}
		log.Error(ctx, "worker: etcd lease keepalive ended")
	}()
	putCtx, cancel := context.WithTimeout(ctx, workerLease)
	_, err = etcdClient.Put(putCtx, key, "", etcd.WithLease(lease.ID))
	cancel()
	if err != nil {
		return errors.Wrapf(err, "worker: etcd key %s", key)
	}

	if _, err := server.ListenTCP(config.PPSWorkerIP, config.PPSWorkerPort); err != nil {
		return errors.Wrapf(err, "worker: listen on %s:%d", config.PPSWorkerIP, config.PPSWorkerPort)
	}
	return errors.EnsureStack(server.Wait())
}
