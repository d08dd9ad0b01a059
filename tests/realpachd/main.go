// Command realpachd runs a genuine pachd 2.12.2 on one loopback port for the
// test suite: the reference server our embedded server is compared against.
//
// It is a test helper of pachmagic, not part of Pachyderm: Pachyderm's code
// stays in the Go module cache, and this program only wires it together.
// Its module path lies under github.com/pachyderm/pachyderm/v2/src/ because
// Go lets only such packages import src/internal/pachd (the server object
// Pachyderm's own tests start); see README.md next to this file.
//
// Each process has fresh state of its own: a new PostgreSQL database (created
// here on the server given by the -pg-* flags, dropped on exit), local-directory
// object storage and an embedded etcd, both in a temporary directory removed on
// exit. Once pachd answers health checks, it prints one line to stdout:
//
//	READY grpc://127.0.0.1:PORT
//
// and serves until SIGINT or SIGTERM (or until its parent process dies).
// Logs go to stderr. It must not touch anything but its own database and its
// temporary directory.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "unsafe" // for go:linkname below

	"github.com/docker/go-units"
	etcdcli "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pachyderm/pachyderm/v2/src/internal/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/cmdutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/dbutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/errors"
	"github.com/pachyderm/pachyderm/v2/src/internal/grpcutil"
	"github.com/pachyderm/pachyderm/v2/src/internal/log"
	lokiclient "github.com/pachyderm/pachyderm/v2/src/internal/lokiutil/client"
	"github.com/pachyderm/pachyderm/v2/src/internal/obj"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachconfig"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachd"
	"github.com/pachyderm/pachyderm/v2/src/internal/pachsql"
	"github.com/pachyderm/pachyderm/v2/src/internal/pctx"
)

// pachd.NewFull builds its gRPC server with grpc.NewServer() and no options,
// so it keeps gRPC's defaults (4 MiB messages), while a deployed pachd's
// server (grpcutil.NewServer) accepts 20 MiB messages, unlimited concurrent
// streams and client keepalive pings every 5 s; clients rely on all three
// (pachyderm-sdk's put_file_from_file sends ~19 MB messages). grpc-go applies
// "global server options" to every server it creates, but offers the hook only
// to its own packages, hence the linkname. The options are set before
// anything starts, so every server in this process gets them (pachd's, and the
// embedded etcd's, whose own options override them).
//
//go:linkname grpcAddGlobalServerOptions google.golang.org/grpc/internal.AddGlobalServerOptions
var grpcAddGlobalServerOptions any

func deployedServerOptions() error {
	add, ok := grpcAddGlobalServerOptions.(func(...grpc.ServerOption))
	if !ok {
		return errors.Errorf("grpc-go has no AddGlobalServerOptions hook of the expected type (%T)", grpcAddGlobalServerOptions)
	}
	add(
		grpc.MaxConcurrentStreams(math.MaxUint32),
		grpc.MaxRecvMsgSize(grpcutil.MaxMsgSize),
		grpc.MaxSendMsgSize(grpcutil.MaxMsgSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	return nil
}

type options struct {
	port       int
	pgHost     string
	pgPort     int
	pgUser     string
	pgPassword string
	pgAdminDB  string
	tmpParent  string
	verbose    bool
}

func main() {
	if podMain() { // a worker pod's container (podmodes.go), not the server
		return
	}
	var o options
	flag.IntVar(&o.port, "port", 0, "TCP port on 127.0.0.1 to serve on (0: a free one)")
	flag.StringVar(&o.pgHost, "pg-host", "127.0.0.1", "PostgreSQL host")
	flag.IntVar(&o.pgPort, "pg-port", 5432, "PostgreSQL port")
	flag.StringVar(&o.pgUser, "pg-user", "postgres", "PostgreSQL user allowed to create databases")
	flag.StringVar(&o.pgPassword, "pg-password", "", "its password (empty with trust authentication)")
	flag.StringVar(&o.pgAdminDB, "pg-admin-db", "postgres", "an existing database to connect to for CREATE/DROP DATABASE")
	flag.StringVar(&o.tmpParent, "tmp", "", "where to make the temporary state directory (default: $TMPDIR)")
	flag.BoolVar(&o.verbose, "v", false, "debug-level logs")
	flag.Parse()

	// The test process that started us may be killed without a chance to stop
	// us: take its death as SIGTERM, so nothing outlives a crashed test run.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0)
	if os.Getppid() == 1 {
		fmt.Fprintln(os.Stderr, "realpachd: parent already gone")
		os.Exit(1)
	}

	log.InitPachdLogger()
	if o.verbose {
		log.SetLevel(log.DebugLevel)
	}
	ctx, stop := signal.NotifyContext(pctx.Background("realpachd"), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "realpachd: %v\n", err)
		os.Exit(1)
	}
}

// cleanups run in reverse order of registration, each with a fresh context
// (the serving context is cancelled by then).
type cleanups []func(ctx context.Context) error

func (c *cleanups) add(name string, fn func(ctx context.Context) error) {
	*c = append(*c, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return errors.Wrap(err, name)
		}
		return nil
	})
}

func (c cleanups) run() error {
	ctx, cancel := context.WithTimeout(pctx.Background("realpachd-cleanup"), 30*time.Second)
	defer cancel()
	var errs error
	for i := len(c) - 1; i >= 0; i-- {
		errors.JoinInto(&errs, c[i](ctx))
	}
	return errs
}

func run(ctx context.Context, o options) (retErr error) {
	var clean cleanups
	defer func() { errors.JoinInto(&retErr, clean.run()) }()

	if err := deployedServerOptions(); err != nil {
		return err
	}

	tmpdir, err := os.MkdirTemp(o.tmpParent, "realpachd-")
	if err != nil {
		return errors.Wrap(err, "make the state directory")
	}
	clean.add("remove "+tmpdir, func(context.Context) error { return os.RemoveAll(tmpdir) })

	dbName, err := createDatabase(ctx, o)
	if err != nil {
		return err
	}
	clean.add("drop database "+dbName, func(ctx context.Context) error { return dropDatabase(ctx, o, dbName) })
	dbOpts := []dbutil.Option{
		dbutil.WithHostPort(o.pgHost, o.pgPort),
		dbutil.WithDBName(dbName),
		dbutil.WithUserPassword(o.pgUser, o.pgPassword),
		dbutil.WithSSLMode("disable"),
	}
	db, err := dbutil.NewDB(ctx, dbOpts...)
	if err != nil {
		return errors.Wrap(err, "open the database")
	}
	clean.add("close db", func(context.Context) error { return db.Close() })
	directDB, err := dbutil.NewDB(ctx, dbOpts...)
	if err != nil {
		return errors.Wrap(err, "open the database")
	}
	clean.add("close direct db", func(context.Context) error { return directDB.Close() })

	objDir := filepath.Join(tmpdir, "objects")
	if err := os.Mkdir(objDir, 0o700); err != nil {
		return errors.Wrap(err, "make the object directory")
	}
	bucket, err := obj.NewBucket(ctx, obj.Local, objDir, "")
	if err != nil {
		return errors.Wrap(err, "local object storage")
	}

	etcdClient, closeEtcd, err := startEtcd(ctx, tmpdir)
	if closeEtcd != nil {
		clean.add("stop etcd", func(context.Context) error { closeEtcd(); return nil })
	}
	if err != nil {
		return err
	}

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.port))
	if err != nil {
		return errors.Wrapf(err, "listen on 127.0.0.1:%d", o.port)
	}
	clean.add("close listener", func(context.Context) error {
		if err := lis.Close(); err != nil && !strings.Contains(err.Error(), "use of closed network connection") {
			return err
		}
		return nil
	})
	port := lis.Addr().(*net.TCPAddr).Port

	config, err := pachdConfig(port, objDir)
	if err != nil {
		return err
	}
	env := pachd.Env{
		DB:               db,
		DirectDB:         directDB,
		DBListenerConfig: dbutil.GetDSN(ctx, dbOpts...),
		Bucket:           bucket,
		EtcdClient:       etcdClient,
		Listener:         lis,
		K8sObjects:       []runtime.Object{selfPod(config)},
		GetLokiClient: func() (*lokiclient.Client, error) {
			return nil, errors.New("no Loki here: logs of pipeline workers are not available")
		},
	}
	var workers *workerSetup // -workers (workers.go)
	if workerOpts.enabled {
		if workers, err = setupWorkers(o, config, &env, dbName, tmpdir); err != nil {
			return err
		}
	}
	pd := pachd.NewFull(env, *config, &pachd.FullOption{})

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	runErr := make(chan error, 1)
	go func() { runErr <- pd.Run(runCtx) }()

	if err := awaitHealthy(ctx, pd, runErr); err != nil {
		return err
	}
	pd.AwaitAuth(ctx)
	if ctx.Err() != nil {
		return nil
	}
	if workers != nil {
		clean.add("stop worker pods", workers.stop)
		if err := workers.start(ctx, pd, port); err != nil {
			return errors.Wrap(err, "start the worker pods' kubelet")
		}
	}
	fmt.Printf("READY grpc://127.0.0.1:%d\n", port)
	_ = os.Stdout.Sync()

	select {
	case <-ctx.Done():
		log.Info(ctx, "realpachd: stopping")
		cancelRun()
		select {
		case <-runErr:
		case <-time.After(10 * time.Second):
			log.Info(ctx, "realpachd: pachd did not stop within 10 s; cleaning up anyway")
		}
		return nil
	case err := <-runErr:
		return errors.Wrap(err, "pachd stopped")
	}
}

// pachdConfig is a full pachd's configuration with its defaults, pointed at
// this process's port and storage, with the storage settings Pachyderm's own
// test pachd uses (keeps small test workloads in memory).
func pachdConfig(port int, objDir string) (*pachconfig.PachdFullConfiguration, error) {
	config := &pachconfig.PachdFullConfiguration{}
	if err := cmdutil.PopulateDefaults(config); err != nil {
		return nil, errors.Wrap(err, "pachd configuration defaults")
	}
	config.PeerPort = uint16(port)
	config.Namespace = "default"
	config.StorageBackend = obj.Local
	config.StorageRoot = objDir
	config.StorageMemoryThreshold = units.GB
	config.StorageLevelFactor = 10
	config.StorageCompactionMaxFanIn = 10
	config.StorageMemoryCacheSize = 20
	// The pod trick: pachd looks up its own pod to find the Postgres secret a
	// pipeline's workers get. Without that pod (NewFull's fake Kubernetes
	// starts empty) every pipeline fails with `pods "" not found`; with it,
	// pipelines reach RUNNING (their workers never start: no Kubernetes).
	config.PachdPodName = "pachd"
	// No usage reports from a test server.
	config.Metrics = false
	return config, nil
}

func selfPod(config *pachconfig.PachdFullConfiguration) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: config.PachdPodName, Namespace: config.Namespace},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "pachd",
			Env: []v1.EnvVar{{
				Name: "POSTGRES_PASSWORD",
				ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
					LocalObjectReference: v1.LocalObjectReference{Name: "postgres"},
					Key:                  "postgresql-password",
				}},
			}},
		}}},
	}
}

// startEtcd runs an embedded single-member etcd on a free loopback port, with
// the settings Pachyderm's test pachd uses (no fsync, fast ticks, big txns).
func startEtcd(ctx context.Context, tmpdir string) (*etcdcli.Client, func(), error) {
	cfg := embed.NewConfig()
	cfg.Dir = filepath.Join(tmpdir, "etcd_data")
	cfg.WalDir = filepath.Join(tmpdir, "etcd_wal")
	cfg.UnsafeNoFsync = true
	cfg.MaxTxnOps = 10000
	cfg.InitialElectionTickAdvance = false
	cfg.TickMs = 10
	cfg.ElectionMs = 50
	level := log.AddLoggerToEtcdServer(ctx, cfg)
	level.SetLevel(zap.ErrorLevel)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, nil, err
	}
	clientURL := url.URL{Scheme: "http", Host: addr}
	cfg.ListenPeerUrls = []url.URL{}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, nil, errors.Wrap(err, "start etcd")
	}
	closeEtcd := etcd.Close
	select {
	case <-etcd.Server.ReadyNotify():
	case err := <-etcd.Err():
		return nil, closeEtcd, errors.Wrap(err, "etcd")
	case <-ctx.Done():
		return nil, closeEtcd, errors.Wrap(context.Cause(ctx), "wait for etcd")
	}
	ccfg := log.GetEtcdClientConfig(ctx)
	ccfg.Endpoints = []string{clientURL.String()}
	ccfg.DialOptions = client.DefaultDialOptions()
	c, err := etcdcli.New(ccfg)
	if err != nil {
		return nil, closeEtcd, errors.Wrap(err, "etcd client")
	}
	return c, func() { _ = c.Close(); etcd.Close() }, nil
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", errors.Wrap(err, "find a free port")
	}
	addr := l.Addr().String()
	return addr, errors.Wrap(l.Close(), "find a free port")
}

func awaitHealthy(ctx context.Context, pd *pachd.Full, runErr <-chan error) error {
	pc, err := pd.PachClient(ctx)
	if err != nil {
		return errors.Wrap(err, "pach client")
	}
	for {
		if err := pc.Health(); err == nil {
			return nil
		}
		select {
		case err := <-runErr:
			return errors.Wrap(err, "pachd stopped before it was healthy")
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func adminDB(ctx context.Context, o options) (*pachsql.DB, error) {
	return dbutil.NewDB(ctx,
		dbutil.WithHostPort(o.pgHost, o.pgPort),
		dbutil.WithDBName(o.pgAdminDB),
		dbutil.WithUserPassword(o.pgUser, o.pgPassword),
		dbutil.WithSSLMode("disable"),
		dbutil.WithMaxOpenConns(1),
	)
}

// createDatabase makes a database of this process's own (a random name), so
// that several reference servers can share one PostgreSQL.
func createDatabase(ctx context.Context, o options) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.Wrap(err, "random database name")
	}
	name := fmt.Sprintf("pachd_%d_%s", os.Getpid(), hex.EncodeToString(b[:]))
	db, err := adminDB(ctx, o)
	if err != nil {
		return "", errors.Wrap(err, "connect to PostgreSQL")
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", errors.Wrapf(err, "create database %s on %s:%d as %s", name, o.pgHost, o.pgPort, o.pgUser)
	}
	return name, nil
}

func dropDatabase(ctx context.Context, o options, name string) error {
	db, err := adminDB(ctx, o)
	if err != nil {
		return err
	}
	defer db.Close()
	// WITH (FORCE): pachd's listeners may still hold connections.
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return errors.EnsureStack(err)
}
