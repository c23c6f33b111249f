package controllers

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	privacyv1alpha1 "github.com/surveyguard/surveyguard/api/v1alpha1"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;delete

// reconcileNetworkPolicy is the NetworkPolicy component: <campaign>-collector
// opens the public port, the admin port only to the operator's namespace and
// the campaign's retention Jobs, and egress only to DNS (and PostgreSQL). It
// also holds the retention Jobs' pods, which carry the admin token, to DNS
// and the collector's admin port.
func reconcileNetworkPolicy(ctx context.Context, r *SurveyCampaignReconciler, p *campaignPass) error {
	want := desiredNetworkPolicy(p.c, r.OperatorNamespace, r.OperatorPodLabels, dsnPorts(string(p.dsn)))
	np := &networkingv1.NetworkPolicy{ObjectMeta: nameOf(want.ObjectMeta)}
	return r.ensureSlim(ctx, p.c, np, want, p.obs, func() error {
		if !equality.Semantic.DeepEqual(want.Spec, np.Spec) {
			np.Spec = want.Spec
		}
		return nil
	})
}

// desiredNetworkPolicy opens the public port to all, the admin port to the
// operator's namespace only (to its pods with operatorPods, when given), and
// lets the collector reach DNS and (with PostgreSQL storage) the database's
// ports, dbPorts.
//
// It selects the campaign's retention Job pods as well as its collector
// pods: one policy, so a campaign costs no more writes. The Job pods get
// the same rules, of which they use DNS and the egress to the collector's
// admin port; nothing listens on their ports, and the collector gains
// nothing it can use from an egress to its own admin port.
func desiredNetworkPolicy(c *privacyv1alpha1.SurveyCampaign, operatorNamespace string, operatorPods map[string]string, dbPorts []int) *networkingv1.NetworkPolicy {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p int, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt(p)), Protocol: &proto}
	}
	operator := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"kubernetes.io/metadata.name": operatorNamespace},
	}}
	if len(operatorPods) > 0 {
		operator.PodSelector = &metav1.LabelSelector{MatchLabels: maps.Clone(operatorPods)}
	}
	egress := []networkingv1.NetworkPolicyEgressRule{
		{Ports: []networkingv1.NetworkPolicyPort{port(53, udp), port(53, tcp)}},
		// The retention Jobs' purge call.
		{Ports: []networkingv1.NetworkPolicyPort{port(adminPort, tcp)}, To: []networkingv1.NetworkPolicyPeer{
			{PodSelector: &metav1.LabelSelector{MatchLabels: selectorLabels(c)}},
		}},
	}
	if c.Spec.Storage.Postgres != nil {
		rule := networkingv1.NetworkPolicyEgressRule{}
		for _, p := range dbPorts {
			rule.Ports = append(rule.Ports, port(p, tcp))
		}
		egress = append(egress, rule)
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: childNames(c).collector, Namespace: c.Namespace, Labels: childLabels(c)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: policedPods(c),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{port(publicPort, tcp)}},
				{
					Ports: []networkingv1.NetworkPolicyPort{port(adminPort, tcp)},
					From: []networkingv1.NetworkPolicyPeer{
						operator,
						// The campaign's own retention Jobs, in its namespace.
						{PodSelector: &metav1.LabelSelector{MatchLabels: retentionSelectorLabels(c)}},
					},
				},
			},
			Egress: egress,
		},
	}
}

// policedPods selects the campaign's collector pods (selectorLabels) and its
// retention Jobs' pods (retentionSelectorLabels).
func policedPods(c *privacyv1alpha1.SurveyCampaign) metav1.LabelSelector {
	collector, retention := selectorLabels(c), retentionSelectorLabels(c)
	const name = "app.kubernetes.io/name"
	match := maps.Clone(collector)
	delete(match, name)
	return metav1.LabelSelector{
		MatchLabels: match,
		MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: name, Operator: metav1.LabelSelectorOpIn, Values: []string{collector[name], retention[name]}},
		},
	}
}

// defaultPostgresPort is the port of a PostgreSQL host that names none.
const defaultPostgresPort = 5432

// dsnPorts are the TCP ports a PostgreSQL connection string connects to,
// sorted and each once: those of its hosts in a URL
// (postgres://u:p@h1:5433,h2/db), of port= in its query or in keyword form
// (host=h port=6432), and 5432 for a host that names none. A string it
// cannot read gives 5432: the collector then reports the string's error.
func dsnPorts(dsn string) []int {
	var ports []string
	if rest, ok := cutScheme(dsn); ok {
		// As libpq (and pgx) read it: an '@' before any '/' ends the
		// user and password, whatever they hold ('?' included).
		if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
			rest = rest[i+1:]
		}
		authority, query := rest, ""
		if i := strings.IndexAny(rest, "/?"); i >= 0 {
			authority = rest[:i]
			if q := strings.IndexByte(rest, '?'); q >= 0 {
				query = rest[q+1:]
			}
		}
		for _, h := range strings.Split(authority, ",") {
			ports = append(ports, hostPort(h))
		}
		if v, err := url.ParseQuery(query); err == nil && v.Get("port") != "" {
			ports = strings.Split(v.Get("port"), ",")
		}
	} else if v := keywordValue(dsn, "port"); v != "" {
		ports = strings.Split(v, ",")
	}
	set := map[int]bool{}
	for _, p := range ports {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if p == "" || err != nil || n < 1 || n > 65535 {
			n = defaultPostgresPort
		}
		set[n] = true
	}
	if len(set) == 0 {
		set[defaultPostgresPort] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// cutScheme is dsn after its postgres:// or postgresql:// scheme.
func cutScheme(dsn string) (string, bool) {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if len(dsn) >= len(scheme) && strings.EqualFold(dsn[:len(scheme)], scheme) {
			return dsn[len(scheme):], true
		}
	}
	return "", false
}

// hostPort is the port of one URL host ("h", "h:6432", "[::1]:6432"), ""
// when it names none.
func hostPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]:"); i >= 0 {
			return h[i+2:]
		}
		return ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[i+1:]
	}
	return ""
}

// keywordValue is the value of key in a keyword/value connection string
// (host=h port='6432' dbname=x), "" when absent; single quotes and
// backslash escapes are read as libpq reads them.
func keywordValue(dsn, key string) string {
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return ""
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return ""
		}
		k := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t\n\r")
		// A quoted value ends at its closing quote, a bare one at white
		// space; a backslash takes the next byte as it is in both.
		quoted := strings.HasPrefix(s, "'")
		end := " \t\n\r"
		if quoted {
			s, end = s[1:], "'"
		}
		var v strings.Builder
		for s != "" && !strings.ContainsRune(end, rune(s[0])) {
			if s[0] == '\\' && len(s) > 1 {
				s = s[1:]
			}
			v.WriteByte(s[0])
			s = s[1:]
		}
		if quoted {
			s = strings.TrimPrefix(s, "'")
		}
		if k == key {
			return v.String()
		}
	}
}
