#!/usr/bin/env bash
# Builds the local test control plane from the Go module proxy alone:
#
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes)
#   etcd                                                       (go.etcd.io/etcd/server/v3)
#   kubectl                                                    (k8s.io/kubectl/pkg/cmd)
#   helm                                                       (helm.sh/helm/v4)
#   kwok                                                       (sigs.k8s.io/kwok)
#
# into the directory setup-envtest uses, so envtest and other standard tooling
# find them without a download:
#
#   ${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/<version>-<os>-<arch>
#
# It is idempotent: a binary already built for the pinned version is skipped.
# The last line it prints is the directory (so callers can use $(...)).
# Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "${here}/versions.env"

goos=$(go env GOOS)
goarch=$(go env GOARCH)
store_root=${ENVTEST_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest}
dest="${store_root}/k8s/${K8S_VERSION}-${goos}-${goarch}"
mkdir -p "${dest}"

log() { printf '[control-plane] %s\n' "$*" >&2; }

# stamp NAME VERSION: the file that records which version a binary was built at.
stamp_ok() { [[ -x "${dest}/$1" && -f "${dest}/.$1.version" && "$(cat "${dest}/.$1.version")" == "$2" ]]; }
stamp_write() { printf '%s' "$2" >"${dest}/.$1.version"; }

# with_heartbeat LABEL CMD...: runs CMD, printing elapsed time every 30 s so a
# ten-minute cold build never sits silent.
with_heartbeat() {
	local label=$1
	shift
	local start=${SECONDS}
	"$@" &
	local pid=$!
	while kill -0 "${pid}" 2>/dev/null; do
		for _ in $(seq 1 30); do
			sleep 1
			kill -0 "${pid}" 2>/dev/null || break
		done
		if kill -0 "${pid}" 2>/dev/null; then
			log "${label}: still building ($((SECONDS - start)) s)"
		fi
	done
	wait "${pid}"
	log "${label}: done in $((SECONDS - start)) s"
}

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath"
export GOTOOLCHAIN=local
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

# ---------------------------------------------------------------------------
# Kubernetes: a helper module that requires k8s.io/kubernetes and replaces
# every staging module its go.mod lists with the published v0.x twin.
kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
need_kube=false
for b in "${kube_bins[@]}"; do stamp_ok "$b" "v${K8S_VERSION}" || need_kube=true; done
if ${need_kube}; then
	log "Kubernetes v${K8S_VERSION}: resolving k8s.io/kubernetes and its staging modules"
	mod=${work}/kube
	mkdir -p "${mod}/cmd/kubectl"
	kmod=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	{
		echo "module surveyguard.local/controlplane"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes v${K8S_VERSION}"
		echo
		echo "replace ("
		sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "${kmod}" | while read -r m; do
			printf '\t%s => %s v%s\n' "$m" "$m" "${K8S_STAGING_VERSION}"
		done
		echo ")"
	} >"${mod}/go.mod"
	cat >"${mod}/cmd/kubectl/main.go" <<'EOF'
// Command kubectl is the upstream kubectl command tree, built from the module proxy.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
EOF
	(
		cd "${mod}"
		go get -tool k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler >&2
		go mod tidy >&2
	)
	vpkg=k8s.io/component-base/version
	ldflags="-s -w -X ${vpkg}.gitVersion=v${K8S_VERSION} -X ${vpkg}.gitMajor=${K8S_VERSION%%.*}"
	minor=${K8S_VERSION#*.}
	ldflags+=" -X ${vpkg}.gitMinor=${minor%%.*} -X ${vpkg}.gitTreeState=clean"
	ldflags+=" -X ${vpkg}.buildDate=1970-01-01T00:00:00Z"
	log "Kubernetes v${K8S_VERSION}: building ${kube_bins[*]} (cold: about ten minutes on 2 cores)"
	(
		cd "${mod}"
		with_heartbeat "kubernetes" go build -ldflags "${ldflags}" -o "${dest}/" \
			k8s.io/kubernetes/cmd/kube-apiserver \
			k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kube-scheduler \
			./cmd/kubectl
	)
	for b in "${kube_bins[@]}"; do stamp_write "$b" "v${K8S_VERSION}"; done
else
	log "Kubernetes v${K8S_VERSION}: already built"
fi

# ---------------------------------------------------------------------------
# etcd: a tiny main over etcdmain.
if ! stamp_ok etcd "v${ETCD_VERSION}"; then
	mod=${work}/etcd
	mkdir -p "${mod}"
	cat >"${mod}/go.mod" <<EOF
module surveyguard.local/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
EOF
	cat >"${mod}/main.go" <<'EOF'
// Command etcd is the upstream etcd server, built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
	(
		cd "${mod}"
		go mod tidy >&2
		with_heartbeat "etcd v${ETCD_VERSION}" go build -ldflags "-s -w" -o "${dest}/etcd" .
	)
	stamp_write etcd "v${ETCD_VERSION}"
else
	log "etcd v${ETCD_VERSION}: already built"
fi

# ---------------------------------------------------------------------------
# helm and kwok: their modules carry no replace directives, so go install works.
if ! stamp_ok helm "v${HELM_VERSION}"; then
	with_heartbeat "helm v${HELM_VERSION}" env GOBIN="${dest}" go install \
		-ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v${HELM_VERSION}" \
		"helm.sh/helm/v4/cmd/helm@v${HELM_VERSION}"
	stamp_write helm "v${HELM_VERSION}"
else
	log "helm v${HELM_VERSION}: already built"
fi
if ! stamp_ok kwok "v${KWOK_VERSION}"; then
	with_heartbeat "kwok v${KWOK_VERSION}" env GOBIN="${dest}" go install \
		-ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v${KWOK_VERSION}" \
		"sigs.k8s.io/kwok/cmd/kwok@v${KWOK_VERSION}"
	stamp_write kwok "v${KWOK_VERSION}"
else
	log "kwok v${KWOK_VERSION}: already built"
fi

log "control plane in ${dest}:"
for b in kube-apiserver kube-controller-manager kube-scheduler etcd kubectl helm kwok; do
	log "  ${b}"
done
echo "${dest}"
