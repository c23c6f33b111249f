#!/usr/bin/env bash
# make demo: a local control plane on loopback, the CRDs, the operator and the
# samples, then what a compliance officer sees with `kubectl get surveyguard`.
#
#   DEMO_KEEP=1 make demo   keeps everything running until Ctrl-C and prints
#                           the KUBECONFIG to use from another shell.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"
assets=${KUBEBUILDER_ASSETS:-$(hack/build-control-plane.sh 2>/dev/null | tail -n 1)}
work=${root}/.demo
probe_port=${DEMO_PROBE_PORT:-18081}
# Where checkout-nps's collector listens when run as a local process.
public_port=${DEMO_PUBLIC_PORT:-18443}
admin_port=${DEMO_ADMIN_PORT:-19443}
rm -rf "${work}"
mkdir -p "${work}"
export KUBECONFIG=${work}/kubeconfig

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
kubectl() { "${assets}/kubectl" "$@"; }

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "${pid}" 2>/dev/null || true; done
}
trap cleanup EXIT

# ready probes the manager over bash's /dev/tcp (no curl needed): true when GET /readyz answers 200.
ready() {
	{ exec 3<>"/dev/tcp/127.0.0.1/${probe_port}"; } 2>/dev/null || return 1
	printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
	local status
	read -r _ status _ <&3 || true
	exec 3>&-
	[[ "${status}" == 200 ]]
}

say "Starting the simulated cluster on loopback (API server, etcd, controller manager, scheduler, KWOK nodes)"
go build -o bin/localcluster ./hack/localcluster
bin/localcluster --kubeconfig-out "${KUBECONFIG}" >"${work}/cluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	[[ -s "${KUBECONFIG}" ]] && break
	kill -0 "${pids[0]}" 2>/dev/null || { cat "${work}/cluster.log"; exit 1; }
	sleep 0.5
done
[[ -s "${KUBECONFIG}" ]] || { echo "the control plane did not start; see ${work}/cluster.log"; exit 1; }
kubectl version

say "Installing the CRDs"
kubectl apply --server-side -f config/crd/bases
kubectl wait --for condition=Established --timeout=60s \
	crd/surveycampaigns.privacy.surveyguard.io crd/retentionpolicies.privacy.surveyguard.io \
	crd/breachreports.privacy.surveyguard.io crd/erasurerequests.privacy.surveyguard.io

say "Starting the operator (bin/surveyguard manager)"
# No pod runs on KWOK's fake nodes: checkout-nps's collector runs as a local
# process below, and --collector-address points the operator at it (still
# checking its certificate for the Service's name).
bin/surveyguard manager --metrics-bind-address=0 \
	--health-probe-bind-address="127.0.0.1:${probe_port}" \
	--collector-address="default/checkout-nps=127.0.0.1:${admin_port}" --stats-interval=2s \
	>"${work}/manager.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
	ready && break
	kill -0 "${pids[1]}" 2>/dev/null || { cat "${work}/manager.log"; exit 1; }
	sleep 0.5
done
ready || { echo "the manager did not become ready; see ${work}/manager.log"; exit 1; }
echo "manager ready (log: ${work}/manager.log)"

say "A volume for the embedded store (the cluster has no provisioner)"
mkdir -p "${work}/volume"
kubectl apply -f - <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: demo-data}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: "${work}/volume"}
EOF

say "Applying the samples (config/samples), all but the breach report and the erasure request"
for f in config/samples/*.yaml; do
	[[ "${f}" == *breachreport* || "${f}" == *erasurerequest* ]] || kubectl apply -n default -f "${f}"
done
kubectl wait -n default --for=jsonpath='{.status.availableReplicas}'=1 --timeout=60s deployment/checkout-nps-collector

say "What the operator made for checkout-nps (its pod runs on a KWOK fake node)"
kubectl get -n default deployment,pod,service,pvc,cronjob,networkpolicy -l privacy.surveyguard.io/campaign=checkout-nps
kubectl get nodes

say "checkout-nps's collector as a local process, with the Secrets and configuration the operator made"
collector=${work}/collector
mkdir -p "${collector}/data"
# mount SECRET DIR writes each key of a Secret to a file, as the kubelet would.
mount() {
	mkdir -p "$2"
	for key in $(kubectl get secret -n default "$1" -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}'); do
		kubectl get secret -n default "$1" -o go-template="{{index .data \"${key}\"}}" | base64 -d >"$2/${key}"
	done
	chmod 600 "$2"/*
}
mount checkout-nps-keys "${collector}/keys"
mount checkout-nps-tls "${collector}/tls"
mount checkout-nps-admin-token "${collector}/admin"
kubectl get configmap -n default checkout-nps-collector -o go-template='{{index .data "collector.yaml"}}' |
	sed -e "s#/secrets/#${collector}/#g" -e "s#/data/#${collector}/data/#" \
		-e "s#public: .*#public: 127.0.0.1:${public_port}#" -e "s#admin: .*#admin: 127.0.0.1:${admin_port}#" \
		>"${collector}/collector.yaml"
bin/surveyguard collector --config "${collector}/collector.yaml" >"${work}/collector.log" 2>&1 &
pids+=($!)
echo "collector running (log: ${work}/collector.log)"

say "Two seconds of survey answers (hack/loadtest), then the NPS on the campaign"
go run ./hack/loadtest --url "https://checkout-nps-collector.default.svc:8443" --connect-to "127.0.0.1:${public_port}" \
	--ca-file "${collector}/tls/ca.crt" --conns 16 --respondents 16 --duration 2s --no-email
kubectl wait -n default --for=condition=Ready --timeout=60s surveycampaign/checkout-nps
kubectl get -n default surveycampaign checkout-nps

say "A breach is reported: the collector is paused and its keys rotated"
kubectl apply -n default -f config/samples/privacy_v1alpha1_breachreport.yaml
kubectl wait -n default --for=jsonpath='{.spec.replicas}'=0 --timeout=60s deployment/checkout-nps-collector
kubectl wait -n default --for=condition=Contained --timeout=60s breachreport/checkout-export-leak
kubectl get -n default deployment checkout-nps-collector
kubectl get -n default breachreport checkout-export-leak
kubectl get -n default breachreport checkout-export-leak \
	-o jsonpath='{range .status.deadlines[*]}{.regime} {.duty} ({.clock}): {.state} {.due}{"\n"}{end}{range .status.containment[*]}{.campaign}: paused at {.pausedAt}, new key {.keyID}{"\n"}{end}'
kubectl get -n default surveycampaign checkout-nps -o jsonpath='paused by {.status.pausedBy}; breaches {.status.breaches}{"\n"}'

say "Customer C-7 asks to be forgotten: the paused collector runs admin-only until they are erased"
kubectl create secret generic erase-c-7 -n default --from-literal=customerID=C-7
kubectl apply -n default -f config/samples/privacy_v1alpha1_erasurerequest.yaml
kubectl wait -n default --for=jsonpath='{.status.phase}'=Completed --timeout=90s erasurerequest/erase-c-7
kubectl get -n default erasurerequest erase-c-7
kubectl get -n default erasurerequest erase-c-7 \
	-o jsonpath='{range .status.results[*]}{.campaign}: {.state}, {.erased} erased at {.at}, digest {.digest}{"\n"}{end}{range .status.deadlines[*]}{.duty} ({.clock}): {.state}, due {.due}{"\n"}{end}'
kubectl wait -n default --for=jsonpath='{.spec.replicas}'=0 --timeout=60s deployment/checkout-nps-collector
kubectl get -n default surveycampaign checkout-nps -o jsonpath='checkout-nps is still paused by {.status.pausedBy}{"\n"}'
kubectl delete secret -n default erase-c-7

say "support-nps waits for its database Secret, and says so"
kubectl wait -n default --for=condition=Stalled --timeout=60s surveycampaign/support-nps >/dev/null
kubectl get surveycampaign support-nps -n default \
	-o jsonpath='{range .status.conditions[?(@.type=="Stalled")]}{.reason}: {.message}{"\n"}{end}'

say "Refused at apply time: a campaign with two storage backends"
if kubectl apply -n default -f - <<'EOF'; then
apiVersion: privacy.surveyguard.io/v1alpha1
kind: SurveyCampaign
metadata: {name: two-backends}
spec:
  question: "How likely are you to recommend us to a friend or colleague?"
  consent: {noticeVersion: "2026-01"}
  retentionPolicyRef: {name: ninety-days}
  storage:
    embedded: {size: 1Gi}
    postgres: {secretRef: {name: pg}}
EOF
	echo "unexpected: the invalid campaign was accepted"
	exit 1
fi

say "kubectl get surveyguard"
kubectl get surveyguard -n default

say "kubectl explain surveycampaign.spec.privacy.minGroupSize"
kubectl explain surveycampaign.spec.privacy.minGroupSize

if [[ -n "${DEMO_KEEP:-}" ]]; then
	say "Running until Ctrl-C. From another shell:"
	echo "  export KUBECONFIG=${KUBECONFIG}"
	echo "  ${assets}/kubectl get surveyguard -A"
	wait "${pids[1]}"
fi
say "Demo finished; stopping the manager and the control plane"
