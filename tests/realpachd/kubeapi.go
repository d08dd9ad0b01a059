// A minimal Kubernetes API for the reference server's worker pods.
//
// pachd itself uses the fake clientset pachd.NewFull makes, in this process.
// The worker and sidecar processes call serviceenv.InitWithKube, which builds
// a real client-go client from KUBERNETES_PORT_443_TCP_ADDR/KUBERNETES_PORT
// (its fallback when not in a cluster) over TLS without verification; the
// worker then reads its own pod (src/server/worker/driver: the user
// container's image id, stored with every datum). This server answers those
// reads from the same fake clientset pachd writes to, so pachd, the workers
// and kubelet.go see one cluster state. Served: GET of pods and secrets, one
// or a list (label selectors honoured); everything else is 404 with the path
// (and logged), so a new need shows up plainly.
package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.uber.org/zap"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/pachyderm/pachyderm/v2/src/internal/log"
	"github.com/pachyderm/pachyderm/v2/src/internal/pctx"
)

// startKubeAPI serves on a free loopback port, with a throwaway certificate.
func startKubeAPI(kube kubernetes.Interface) *httptest.Server {
	ctx := pctx.Background("kube-api")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obj, err := kubeGet(r, kube)
		if err != nil {
			status := http.StatusInternalServerError
			if se, ok := err.(k8serrors.APIStatus); ok {
				status = int(se.Status().Code)
			}
			if status == http.StatusNotFound {
				log.Info(ctx, "kube api: not served", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Message: err.Error(), Code: int32(status)}
			if se, ok := err.(k8serrors.APIStatus); ok {
				st = se.Status()
				st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
			}
			_ = json.NewEncoder(w).Encode(st)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(obj)
	}))
	srv.StartTLS()
	return srv
}

func kubeGet(r *http.Request, kube kubernetes.Interface) (runtime.Object, error) {
	// /api/v1/namespaces/{namespace}/{resource}[/{name}]
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 5 || len(parts) > 6 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" {
		return nil, k8serrors.NewNotFound(schemaResource(r.URL.Path), r.Method+" "+r.URL.Path)
	}
	ctx, ns, resource := r.Context(), parts[3], parts[4]
	list := metav1.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")}
	switch {
	case resource == "pods" && len(parts) == 6:
		obj, err := kube.CoreV1().Pods(ns).Get(ctx, parts[5], metav1.GetOptions{})
		if err == nil {
			obj.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		}
		return obj, err //nolint:wrapcheck // a Kubernetes status error, passed on as such
	case resource == "pods":
		obj, err := kube.CoreV1().Pods(ns).List(ctx, list)
		if err == nil {
			obj.TypeMeta = metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}
		}
		return obj, err //nolint:wrapcheck
	case resource == "secrets" && len(parts) == 6:
		obj, err := kube.CoreV1().Secrets(ns).Get(ctx, parts[5], metav1.GetOptions{})
		if err == nil {
			obj.TypeMeta = metav1.TypeMeta{Kind: "Secret", APIVersion: "v1"}
		}
		return obj, err //nolint:wrapcheck
	case resource == "secrets":
		obj, err := kube.CoreV1().Secrets(ns).List(ctx, list)
		if err == nil {
			obj.TypeMeta = metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"}
		}
		return obj, err //nolint:wrapcheck
	}
	return nil, k8serrors.NewNotFound(schemaResource(resource), r.Method+" "+r.URL.Path)
}

func schemaResource(resource string) schema.GroupResource {
	return schema.GroupResource{Resource: resource}
}
