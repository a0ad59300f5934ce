/**
 * The twin's dataplane: decides one TCP connection in a simulated kind cluster (kindnet with
 * kube-network-policies v0.8.0) running Istio ambient 1.28.3, from the objects as the API server stores them.
 *
 * This is a direct, unoptimised reading of the upstream code, written without looking at the project's own
 * reachability model (harness/reachability/), so that the two can be compared. Every rule cites its source:
 *
 *   knp@v0.8.0   = github.com/kubernetes-sigs/kube-network-policies, tag v0.8.0
 *   istio@1.28.3 = github.com/istio/istio, tag 1.28.3
 *   zt@1.28.3    = github.com/istio/ztunnel, tag 1.28.3
 *   k8s api      = github.com/kubernetes/api networking/v1/types.go (v0.34)
 *
 * Out of scope (TODO): sidecar-injected pods (they run Envoy, not ztunnel, and judge 15008 themselves);
 * host-network sources (kube-network-policies sees a node IP and, for root-owned sockets, accepts the packet
 * unjudged: knp@v0.8.0 pkg/networkpolicy/controller.go "meta skuid 0 accept"); kubelet probes (root-owned host
 * sockets, SNATed to 169.254.7.127 before entering an enrolled pod: istio@1.28.3 cni/pkg/iptables/iptables.go);
 * waypoints and Services (no VIPs: the client dials a pod IP); HBONE connection pooling (zt@1.28.3
 * src/proxy/pool.rs: a NetworkPolicy applied after a pooled src→dst:15008 connection exists does not see new
 * streams; the twin assumes a fresh connection every time).
 */
import net from 'node:net';

// ---------------------------------------------------------------------------------------------------------
// Object shapes (only the fields read here; everything else is ignored)
// ---------------------------------------------------------------------------------------------------------

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface Namespace {
  metadata: ObjectMeta;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: {
    serviceAccountName?: string;
    serviceAccount?: string;
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: { name?: string; ports?: ContainerPort[] }[];
  };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[]; hostIP?: string };
}

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicy {
  metadata: ObjectMeta;
  spec: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: { ports?: NetworkPolicyPort[]; from?: NetworkPolicyPeer[] }[];
    egress?: { ports?: NetworkPolicyPort[]; to?: NetworkPolicyPeer[] }[];
  };
}

export interface MutualTls {
  mode?: string;
}

export interface PeerAuthentication {
  metadata: ObjectMeta;
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    mtls?: MutualTls;
    portLevelMtls?: Record<string, MutualTls>;
  };
}

export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationRule {
  from?: { source?: AuthorizationSource }[];
  to?: { operation?: AuthorizationOperation }[];
  when?: { key: string; values?: string[]; notValues?: string[] }[];
}

export interface AuthorizationPolicy {
  metadata: ObjectMeta;
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: object;
    targetRefs?: object[];
    action?: string;
    rules?: AuthorizationRule[];
  };
}

export interface TwinObjects {
  namespaces: Namespace[];
  pods: Pod[];
  networkPolicies: NetworkPolicy[];
  peerAuthentications: PeerAuthentication[];
  authorizationPolicies: AuthorizationPolicy[];
  /** meshConfig.rootNamespace; istio-system for the Helm charts */
  rootNamespace: string;
  /**
   * Nodes where a ztunnel pod runs and is Ready. Undefined: every node (the dataplane's tests and
   * the differential test, which compare policy, not component health).
   */
  ztunnelNodes?: string[];
}

export interface Connection {
  from: { namespace: string; name: string };
  toIp: string;
  port: number;
}

export interface Decision {
  /**
   * What happened in the dataplane: `timeout` = somebody gave up waiting for a dropped SYN (curl itself, or
   * ztunnel after its 10 s connect timeout); `reset` = the client's connection was accepted, then closed with
   * a RST; `refused` = the destination kernel answered the SYN with a RST.
   */
  outcome: 'connected' | 'timeout' | 'reset' | 'refused';
  /** what `curl --connect-timeout 5 --max-time 12 http://ip:port/` exits with: 0, 28, 56 or 7 */
  curlExit: number;
  /** simulated time_total curl reports; 0 means sub-second */
  seconds: number;
  /** travelled over HBONE (source enrolled and destination enrolled, or a native HBONE endpoint) */
  hbone: boolean;
  /** the destination port NetworkPolicy judged (15008 for HBONE) */
  judgedPort: number;
  /** spiffe://cluster.local/ns/<ns>/sa/<sa> presented by the source when the connection is mTLS */
  sourceIdentity?: string;
  /** one line, for debugging */
  why: string;
}

export interface CurlOptions {
  /** --connect-timeout, seconds */
  connectTimeout: number;
  /** --max-time, seconds */
  maxTime: number;
}

const DEFAULT_CURL: CurlOptions = { connectTimeout: 5, maxTime: 12 };

/** istio@1.28.3 pkg/config/constants: annotation.AmbientRedirection and its values. */
export const AMBIENT_REDIRECTION = 'ambient.istio.io/redirection';
/** zt@1.28.3 src/config.rs: the HBONE inbound port, bound inside every enrolled pod's netns. */
export const HBONE_PORT = 15008;
/** zt@1.28.3 src/proxy.rs:637 `const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10)`. */
export const ZTUNNEL_CONNECT_TIMEOUT_SECONDS = 10;
/** istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go staticStrictPolicyName. */
const STATIC_STRICT_POLICY = 'istio_converted_static_strict';
/** istio@1.28.3 pilot/pkg/model/authentication.go convertedPeerAuthenticationPrefix. */
const CONVERTED_PA_PREFIX = 'converted_peer_authentication_';

// ---------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------

const labelsOf = (o: { metadata: ObjectMeta }): Record<string, string> => o.metadata.labels ?? {};
const nsOf = (o: { metadata: ObjectMeta }): string => o.metadata.namespace ?? '';

/** k8s.io/apimachinery labels.Selector built by metav1.LabelSelectorAsSelector (matchLabels AND matchExpressions). */
function labelSelectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // the API server rejects other operators
    }
  }
  return true;
}

/** Istio's WorkloadSelector: labels.Instance(matchLabels).SubsetOf(podLabels). */
function subsetOf(matchLabels: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}

interface Cidr {
  ip: string;
  bits: number;
  family: 'ipv4' | 'ipv6';
}

/** Go net.ParseCIDR / netip.ParsePrefix (host bits allowed); a bare address is a /32 or /128. */
function parseCidr(s: string): Cidr | undefined {
  const [ip, bitsText] = s.split('/');
  const v = net.isIP(ip ?? '');
  if (!ip || v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const bits = bitsText === undefined ? max : /^[0-9]+$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) return undefined;
  return { ip, bits, family: v === 4 ? 'ipv4' : 'ipv6' };
}

function cidrContains(c: Cidr, ip: string): boolean {
  const v = net.isIP(ip);
  if (v === 0 || (v === 4 ? 'ipv4' : 'ipv6') !== c.family) return false;
  const list = new net.BlockList();
  list.addSubnet(c.ip, c.bits, c.family);
  return list.check(ip, c.family);
}

function podIps(p: Pod): string[] {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip);
  if (ips.length === 0 && p.status?.podIP) ips.push(p.status.podIP);
  return ips;
}

/** istio@1.28.3 pkg/kube CheckPodTerminal: phase Failed or Succeeded. */
const isTerminal = (p: Pod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

/** Is any container declaring `port` (TCP)? The twin's stand-in for "a process listens there". */
function listensOn(p: Pod, port: number): boolean {
  return (p.spec?.containers ?? []).some((c) =>
    (c.ports ?? []).some((cp) => cp.containerPort === port && (cp.protocol ?? 'TCP') === 'TCP'),
  );
}

// ---------------------------------------------------------------------------------------------------------
// 1. Enrollment (istio-cni)
// ---------------------------------------------------------------------------------------------------------

/**
 * A pod is in the mesh when istio-cni has annotated it `ambient.istio.io/redirection: enabled`
 * (istio@1.28.3 cni/pkg/util/podutil.go PodFullyEnrolled); istiod then gives it TunnelProtocol HBONE
 * (pilot/pkg/serviceregistry/kube/controller/ambient/workloads.go setTunnelProtocol).
 */
export function isEnrolled(p: Pod): boolean {
  return p.metadata.annotations?.[AMBIENT_REDIRECTION] === 'enabled';
}

/**
 * `pending`: in-pod redirection rules are in place but no ztunnel took the pod yet
 * (istio@1.28.3 cni/pkg/nodeagent/meshdataplane_linux.go AddPodToMesh, AnnotatePartiallyEnrolledPod).
 */
function isPending(p: Pod): boolean {
  return p.metadata.annotations?.[AMBIENT_REDIRECTION] === 'pending';
}

/**
 * Redirected, but no ztunnel listens in the pod's netns: the annotation is `pending`, or the pod is
 * enrolled on a node where no ztunnel runs (it was never there, or was uninstalled from under
 * enrolled pods: istio-cni's in-pod rules stay, ztunnel's in-pod listeners went with its process,
 * zt@1.28.3 src/inpod/statemanager.rs). Outbound meets nothing on 15001, inbound nothing on 15006.
 */
function unserved(objects: TwinObjects, p: Pod): boolean {
  if (isPending(p)) return true;
  if (!isEnrolled(p) || objects.ztunnelNodes === undefined) return false;
  return !objects.ztunnelNodes.includes(p.spec?.nodeName ?? '');
}

/** One entry of the cni chart's ambient.enablementSelectors. */
export interface EnablementSelector {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
}

/** istio@1.28.3 manifests/charts/istio-cni/values.yaml ambient.enablementSelectors (the default). */
export const DEFAULT_ENABLEMENT_SELECTORS: EnablementSelector[] = [
  { podSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } } },
  {
    podSelector: {
      matchExpressions: [{ key: 'istio.io/dataplane-mode', operator: 'NotIn', values: ['none'] }],
    },
    namespaceSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } },
  },
];

export interface EnrollOptions {
  /** cni chart `excludeNamespaces`, default [kube-system] */
  excludeNamespaces?: string[];
  /** where ztunnel runs (IsZtunnelPod), default istio-system */
  systemNamespace?: string;
  enablementSelectors?: EnablementSelector[];
}

/**
 * istio-cni's decision whether `pod` should be captured, for the twin's cni controller.
 * - host-network pods never are: kubelet does not call CNI for them, and the node agent's /proc scan ignores
 *   the host netns (istio@1.28.3 cni/pkg/nodeagent/podcgroupns_linux.go "ignoring host netns"), so
 *   AddPodToMesh fails non-retryably (net_linux.go getOrOpenNetns).
 * - pods in an excluded namespace are skipped (cni/pkg/plugin/plugin.go doAddRun "pod namespace excluded").
 *   Note: only the CNI plugin checks this, at sandbox creation; the node agent's informer path
 *   (cni/pkg/nodeagent/informers.go reconcilePod) does not, see README "ambiguities".
 * - ztunnel pods are never enrolled (cni/pkg/util/podutil.go IsZtunnelPod), nor terminal pods (informers.go).
 * - sidecar-injected pods (annotation sidecar.istio.io/status) opt out, then the enablement selectors decide:
 *   a selector matches when its podSelector matches the pod AND its namespaceSelector matches the namespace;
 *   an empty selector matches everything (cni/pkg/util/enablement_selector.go Matches).
 */
export function shouldEnroll(namespace: Namespace | undefined, pod: Pod, opts: EnrollOptions = {}): boolean {
  const exclude = opts.excludeNamespaces ?? ['kube-system'];
  const systemNs = opts.systemNamespace ?? 'istio-system';
  const selectors = opts.enablementSelectors ?? DEFAULT_ENABLEMENT_SELECTORS;
  if (pod.spec?.hostNetwork) return false;
  if (exclude.includes(nsOf(pod))) return false;
  if (nsOf(pod) === systemNs && labelsOf(pod)['app'] === 'ztunnel') return false;
  if (isTerminal(pod)) return false;
  if (pod.metadata.annotations && Object.hasOwn(pod.metadata.annotations, 'sidecar.istio.io/status'))
    return false;
  const nsLabels = namespace ? labelsOf(namespace) : {};
  return selectors.some(
    (s) =>
      labelSelectorMatches(s.podSelector ?? {}, labelsOf(pod)) &&
      labelSelectorMatches(s.namespaceSelector ?? {}, nsLabels),
  );
}

/**
 * The identity ztunnel presents for a pod: spiffe://<trustDomain>/ns/<ns>/sa/<sa>, with the service account
 * "default" when unset (zt@1.28.3 src/state/workload.rs; trust domain cluster.local, istiod pickTrustDomain).
 */
export function identityOf(p: Pod): string {
  return `spiffe://cluster.local/ns/${nsOf(p)}/sa/${serviceAccountOf(p)}`;
}

const serviceAccountOf = (p: Pod): string =>
  p.spec?.serviceAccountName || p.spec?.serviceAccount || 'default';

// ---------------------------------------------------------------------------------------------------------
// 2. NetworkPolicy, as kube-network-policies v0.8.0 evaluates the first packet of a connection
//    (knp@v0.8.0 pkg/networkpolicy/controller.go evaluatePacket, networkpolicy.go)
// ---------------------------------------------------------------------------------------------------------

/**
 * controller.go podIPIndex + getPodAssignedToIP: host-network pods are not indexed, so their IP maps to no pod;
 * among several pods with one IP the running one wins (the twin: the first non-terminal one).
 */
function npPodForIp(objects: TwinObjects, ip: string): Pod | undefined {
  const pods = objects.pods.filter((p) => !p.spec?.hostNetwork && podIps(p).includes(ip));
  return pods.find((p) => !isTerminal(p)) ?? pods[0];
}

/**
 * The API server's defaulting of policyTypes (k8s api networking/v1/types.go NetworkPolicySpec.PolicyTypes:
 * "policies that contain an egress section are assumed to affect egress, and all policies ... ingress").
 * Stored objects already carry it; applied here only when missing.
 */
function policyTypesOf(np: NetworkPolicy): string[] {
  if (np.spec.policyTypes && np.spec.policyTypes.length > 0) return np.spec.policyTypes;
  return (np.spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/** networkpolicy.go getNetworkPoliciesForPod: same namespace, spec.podSelector matches (empty selects all). */
function networkPoliciesForPod(objects: TwinObjects, pod: Pod | undefined): NetworkPolicy[] {
  if (!pod) return [];
  return objects.networkPolicies.filter(
    (np) => nsOf(np) === nsOf(pod) && labelSelectorMatches(np.spec.podSelector ?? {}, labelsOf(pod)),
  );
}

/** intstr.IntValue(): a string port is strconv.Atoi'd, 0 when it is a name. */
function intValue(port: number | string): number {
  if (typeof port === 'number') return port;
  return /^-?[0-9]+$/.test(port) ? Number(port) : 0;
}

/**
 * networkpolicy.go evaluatePorts. Protocol defaults to TCP (types.go NetworkPolicyPort.Protocol); a named port
 * is looked up in `pod`'s containers (the destination pod, both for ingress and egress); endPort is inclusive.
 */
function evaluatePorts(ports: NetworkPolicyPort[] | undefined, pod: Pod | undefined, port: number): boolean {
  if (!ports || ports.length === 0) return true;
  for (const pp of ports) {
    if ((pp.protocol ?? 'TCP') !== 'TCP') continue;
    if (pp.port === undefined) return true;
    if (port === intValue(pp.port)) return true;
    if (pod && typeof pp.port === 'string' && pp.port !== '') {
      for (const c of pod.spec?.containers ?? []) {
        for (const cp of c.ports ?? []) {
          if (cp.name === pp.port && cp.containerPort === port && (cp.protocol ?? 'TCP') === 'TCP')
            return true;
        }
      }
    }
    if (pp.endPort === undefined) continue;
    if (port > intValue(pp.port) && port <= pp.endPort) return true;
  }
  return false;
}

/** networkpolicy.go evaluateIPBlocks: inside cidr and outside every except. Pod IPs are not excluded. */
function evaluateIpBlock(block: { cidr: string; except?: string[] }, ip: string): boolean {
  const cidr = parseCidr(block.cidr);
  if (!cidr) return true; // "this has been validated by the API"
  if (!cidrContains(cidr, ip)) return false;
  for (const e of block.except ?? []) {
    const ex = parseCidr(e);
    if (!ex) return true;
    if (cidrContains(ex, ip)) return false;
  }
  return true;
}

/**
 * networkpolicy.go evaluateSelectors: podSelector alone means "in the policy's namespace"; an empty
 * namespaceSelector means every namespace; otherwise the pod's namespace must be listed by the selector.
 */
function evaluateSelectors(
  objects: TwinObjects,
  peer: NetworkPolicyPeer,
  pod: Pod,
  policyNs: string,
): boolean {
  if (peer.podSelector) {
    if (!labelSelectorMatches(peer.podSelector, labelsOf(pod))) return false;
    if (!peer.namespaceSelector) return nsOf(pod) === policyNs;
  }
  if (peer.namespaceSelector) {
    const sel = peer.namespaceSelector;
    if (Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0) return true;
    return objects.namespaces.some(
      (ns) => ns.metadata.name === nsOf(pod) && labelSelectorMatches(sel, namespaceLabels(ns)),
    );
  }
  return true;
}

/** The API server always sets kubernetes.io/metadata.name on a Namespace (NamespaceDefaultLabelName). */
function namespaceLabels(ns: Namespace): Record<string, string> {
  return { 'kubernetes.io/metadata.name': ns.metadata.name, ...labelsOf(ns) };
}

/** networkpolicy.go evaluatePeers (the `from`/`to` loop of evaluateIngress/evaluateEgress). */
function evaluatePeers(
  objects: TwinObjects,
  peers: NetworkPolicyPeer[] | undefined,
  peerPod: Pod | undefined,
  peerIp: string,
  policyNs: string,
): boolean {
  if (!peers || peers.length === 0) return true;
  for (const peer of peers) {
    if (peer.ipBlock) {
      if (evaluateIpBlock(peer.ipBlock, peerIp)) return true;
      continue;
    }
    if (!peerPod) continue; // traffic from/to outside the pod network never matches selectors
    if ((peer.namespaceSelector || peer.podSelector) && evaluateSelectors(objects, peer, peerPod, policyNs)) {
      return true;
    }
  }
  return false;
}

/**
 * networkpolicy.go evaluator for one direction: no policy selecting the pod (for that policy type) allows;
 * otherwise some rule of some such policy must match. A policy without rules for the direction only isolates.
 * (An empty `ingress: []` is treated as absent: the API server drops empty lists when it round-trips the
 * object, so the informer sees nil, not the `len(rules) == 0 → allow` branch.)
 */
function networkPolicyAllows(
  objects: TwinObjects,
  src: { pod: Pod | undefined; ip: string },
  dst: { pod: Pod | undefined; ip: string },
  port: number,
): { allowed: boolean; why: string } {
  // 1. Egress of the source pod (evaluatePacket "Evalute Egress Policies").
  const egress = networkPoliciesForPod(objects, src.pod).filter((np) => policyTypesOf(np).includes('Egress'));
  if (egress.length > 0) {
    const ok = egress.some((np) =>
      (np.spec.egress ?? []).some(
        (rule) =>
          evaluatePorts(rule.ports, dst.pod, port) &&
          evaluatePeers(objects, rule.to, dst.pod, dst.ip, nsOf(np)),
      ),
    );
    if (!ok)
      return { allowed: false, why: `egress of ${nsOf(src.pod!)}/${src.pod!.metadata.name} to :${port}` };
  }
  // 2. Ingress of the destination pod.
  const ingress = networkPoliciesForPod(objects, dst.pod).filter((np) =>
    policyTypesOf(np).includes('Ingress'),
  );
  if (ingress.length > 0) {
    const ok = ingress.some((np) =>
      (np.spec.ingress ?? []).some(
        (rule) =>
          evaluatePorts(rule.ports, dst.pod, port) &&
          evaluatePeers(objects, rule.from, src.pod, src.ip, nsOf(np)),
      ),
    );
    if (!ok)
      return { allowed: false, why: `ingress of ${nsOf(dst.pod!)}/${dst.pod!.metadata.name} on :${port}` };
  }
  return { allowed: true, why: '' };
}

// ---------------------------------------------------------------------------------------------------------
// 3. Mesh policy: istiod's conversion (istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/
//    authorization.go, policies.go, workloads.go) and ztunnel's evaluation (zt@1.28.3 src/rbac.rs, src/state.rs)
// ---------------------------------------------------------------------------------------------------------

type StringMatch =
  | { kind: 'exact'; v: string }
  | { kind: 'prefix'; v: string }
  | { kind: 'suffix'; v: string }
  | { kind: 'presence' };

interface RbacMatch {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  serviceAccounts: { namespace: string; serviceAccount: string }[];
  notServiceAccounts: { namespace: string; serviceAccount: string }[];
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: Cidr[];
  notSourceIps: Cidr[];
  destinationIps: Cidr[];
  notDestinationIps: Cidr[];
  destinationPorts: number[];
  notDestinationPorts: number[];
}

const emptyMatch = (): RbacMatch => ({
  namespaces: [],
  notNamespaces: [],
  serviceAccounts: [],
  notServiceAccounts: [],
  principals: [],
  notPrincipals: [],
  sourceIps: [],
  notSourceIps: [],
  destinationIps: [],
  notDestinationIps: [],
  destinationPorts: [],
  notDestinationPorts: [],
});

/** ztunnel's Authorization: rules (= istiod Groups, OR) of clauses (= Rules, AND) of matches (OR). */
interface ZtunnelPolicy {
  namespace: string;
  name: string;
  scope: 'Global' | 'Namespace' | 'WorkloadSelector';
  action: 'Allow' | 'Deny';
  rules: RbacMatch[][][];
  /** istiod side: the AuthorizationPolicy's selector.matchLabels, used to attach it to workloads */
  matchLabels?: Record<string, string> | undefined;
}

const keyOf = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

/** authorization.go stringToMatch: "*" presence, "*x" suffix, "x*" prefix, else exact. */
function stringToMatch(values: string[] | undefined): StringMatch[] {
  return (values ?? []).map((v): StringMatch => {
    if (v === '*') return { kind: 'presence' };
    if (v.startsWith('*')) return { kind: 'suffix', v: v.slice(1) };
    if (v.endsWith('*')) return { kind: 'prefix', v: v.slice(0, -1) };
    return { kind: 'exact', v };
  });
}

/** authorization.go stringToPort: base-10 uint ≤ 65535, anything else dropped. */
function stringToPort(values: string[] | undefined): number[] {
  return (values ?? []).filter((v) => /^[0-9]+$/.test(v) && Number(v) <= 65535).map(Number);
}

/** authorization.go stringToIP: address or prefix, unparsable dropped. */
function stringToIp(values: string[] | undefined): Cidr[] {
  return (values ?? []).flatMap((v) => (v === '' ? [] : (parseCidr(v) ?? [])));
}

/** authorization.go stringToServiceAccountMatch: "ns/sa", or "sa" in the policy's namespace. */
function stringToServiceAccountMatch(values: string[] | undefined, ruleNs: string) {
  return (values ?? []).map((v) => {
    const i = v.indexOf('/');
    return i >= 0
      ? { namespace: v.slice(0, i), serviceAccount: v.slice(i + 1) }
      : { namespace: ruleNs, serviceAccount: v };
  });
}

/** authorization.go l4WhenAttributes; any other `when` key is an HTTP attribute. */
const L4_WHEN = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
]);

/**
 * authorization.go handleRule. Returns the rule's clauses, or null when the rule is dropped: an ALLOW rule
 * that uses any HTTP attribute never matches ("L7 policies never match for ALLOW"). In a DENY rule the HTTP
 * attributes are simply left out of the match they were in.
 */
function handleRule(action: 'Allow' | 'Deny', rule: AuthorizationRule, ruleNs: string): RbacMatch[][] | null {
  let l7 = false;
  const toMatches: RbacMatch[] = [];
  for (const to of rule.to ?? []) {
    const op = to.operation ?? {};
    if (['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'].some((f) => nonEmpty(op, f)))
      l7 = true;
    toMatches.push({
      ...emptyMatch(),
      destinationPorts: stringToPort(op.ports),
      notDestinationPorts: stringToPort(op.notPorts),
    });
  }
  const fromMatches: RbacMatch[] = [];
  for (const from of rule.from ?? []) {
    const s = from.source ?? {};
    if (
      ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'].some((f) =>
        nonEmpty(s, f),
      )
    )
      l7 = true;
    fromMatches.push({
      ...emptyMatch(),
      sourceIps: stringToIp(s.ipBlocks),
      notSourceIps: stringToIp(s.notIpBlocks),
      namespaces: stringToMatch(s.namespaces),
      notNamespaces: stringToMatch(s.notNamespaces),
      serviceAccounts: stringToServiceAccountMatch(s.serviceAccounts, ruleNs),
      notServiceAccounts: stringToServiceAccountMatch(s.notServiceAccounts, ruleNs),
      principals: stringToMatch(s.principals),
      notPrincipals: stringToMatch(s.notPrincipals),
    });
  }
  const clauses: RbacMatch[][] = [];
  if (toMatches.length > 0) clauses.push(toMatches);
  if (fromMatches.length > 0) clauses.push(fromMatches);
  for (const when of rule.when ?? []) {
    if (!L4_WHEN.has(when.key)) l7 = true;
    const pick = (key: string, invert: boolean) =>
      when.key === key ? (invert ? when.notValues : when.values) : [];
    clauses.push([
      {
        ...emptyMatch(),
        namespaces: stringToMatch(pick('source.namespace', false)),
        principals: stringToMatch(pick('source.principal', false)),
        sourceIps: stringToIp(pick('source.ip', false)),
        destinationPorts: stringToPort(pick('destination.port', false)),
        destinationIps: stringToIp(pick('destination.ip', false)),
        notNamespaces: stringToMatch(pick('source.namespace', true)),
        notPrincipals: stringToMatch(pick('source.principal', true)),
        notSourceIps: stringToIp(pick('source.ip', true)),
        notDestinationPorts: stringToPort(pick('destination.port', true)),
        notDestinationIps: stringToIp(pick('destination.ip', true)),
      },
    ]);
  }
  if (action === 'Allow' && l7) return null;
  return clauses;
}

function nonEmpty(o: object, field: string): boolean {
  const v = (o as Record<string, unknown>)[field];
  return Array.isArray(v) && v.length > 0;
}

/**
 * authorization.go convertAuthorizationPolicy + policies.go AuthzDerivedPolicies: dry-run policies and
 * targetRef(s) policies (for waypoints) never reach ztunnel, nor AUDIT/CUSTOM; no selector is namespace scope,
 * or global in the root namespace.
 */
function convertAuthorizationPolicy(root: string, ap: AuthorizationPolicy): ZtunnelPolicy | undefined {
  const spec = ap.spec ?? {};
  const dryRun = ap.metadata.annotations?.['istio.io/dry-run'];
  if (dryRun !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(dryRun)) return undefined;
  if (spec.targetRef || (spec.targetRefs && spec.targetRefs.length > 0)) return undefined;
  const actionText = spec.action ?? 'ALLOW';
  if (actionText !== 'ALLOW' && actionText !== 'DENY') return undefined;
  const action = actionText === 'ALLOW' ? 'Allow' : 'Deny';
  const scope =
    spec.selector === undefined ? (nsOf(ap) === root ? 'Global' : 'Namespace') : 'WorkloadSelector';
  const rules: RbacMatch[][][] = [];
  for (const rule of spec.rules ?? []) {
    const clauses = handleRule(action, rule ?? {}, nsOf(ap));
    if (clauses !== null) rules.push(clauses);
  }
  return {
    namespace: nsOf(ap),
    name: ap.metadata.name,
    scope,
    action,
    rules,
    matchLabels: spec.selector?.matchLabels,
  };
}

// --- PeerAuthentication -------------------------------------------------------------------------------------

const modeOf = (m: MutualTls | undefined): string => m?.mode ?? 'UNSET';
const isUnset = (m: MutualTls | undefined): boolean => m === undefined || modeOf(m) === 'UNSET';
const isStrict = (m: MutualTls | undefined): boolean => m !== undefined && modeOf(m) === 'STRICT';
const isPermissive = (m: MutualTls | undefined): boolean => m !== undefined && modeOf(m) === 'PERMISSIVE';
const isDisable = (m: MutualTls | undefined): boolean => m !== undefined && modeOf(m) === 'DISABLE';

/** Go `a.CreationTimestamp.Before(&b.CreationTimestamp)`; a missing timestamp is the zero time. */
function before(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): boolean {
  const t = (o: { metadata: ObjectMeta }) =>
    o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : 0;
  return t(a) < t(b);
}

function oldest<T extends { metadata: ObjectMeta }>(list: T[]): T | undefined {
  let o: T | undefined;
  for (const x of list) if (o === undefined || before(x, o)) o = x;
  return o;
}

const portLevel = (pa: PeerAuthentication): [number, MutualTls][] =>
  Object.entries(pa.spec?.portLevelMtls ?? {})
    .map(([k, v]): [number, MutualTls] => [Number(k), v])
    .sort((a, b) => a[0] - b[0]); // maps.SeqStable

const convertedKey = (pa: PeerAuthentication): string =>
  `${nsOf(pa)}/${CONVERTED_PA_PREFIX}${pa.metadata.name}`;

/** workloads.go fetchPeerAuthentications: root-namespace policies without selector, and the pod's namespace ones that select it. */
function fetchPeerAuthentications(objects: TwinObjects, pod: Pod): PeerAuthentication[] {
  return objects.peerAuthentications.filter((pa) => {
    if (nsOf(pa) === objects.rootNamespace && pa.spec?.selector === undefined) return true;
    if (nsOf(pa) !== nsOf(pod)) return false;
    const sel = pa.spec?.selector;
    if (sel === undefined) return true;
    return subsetOf(sel.matchLabels ?? {}, labelsOf(pod));
  });
}

/**
 * authorization.go convertedSelectorPeerAuthentications: the policy keys a workload gets from PeerAuthentication —
 * the static STRICT policy when the effective mode is STRICT, and/or the converted (port-level) workload policy.
 * Oldest mesh, namespace and workload policy win; a workload policy in the root namespace is ignored.
 */
function convertedSelectorPeerAuthentications(root: string, configs: PeerAuthentication[]): string[] {
  let meshCfg: PeerAuthentication | undefined;
  let namespaceCfg: PeerAuthentication | undefined;
  let workloadCfg: PeerAuthentication | undefined;
  for (const cfg of configs) {
    const sel = cfg.spec?.selector;
    if (sel === undefined || Object.keys(sel.matchLabels ?? {}).length === 0) {
      if (nsOf(cfg) === root) {
        if (meshCfg === undefined || before(cfg, meshCfg)) meshCfg = cfg;
      } else if (namespaceCfg === undefined || before(cfg, namespaceCfg)) namespaceCfg = cfg;
    } else if (nsOf(cfg) !== root) {
      if (workloadCfg === undefined || before(cfg, workloadCfg)) workloadCfg = cfg;
    }
  }
  let strict = false;
  let portLevelKey = '';
  if (meshCfg) strict = isStrict(meshCfg.spec?.mtls);
  if (namespaceCfg && !isUnset(namespaceCfg.spec?.mtls)) strict = isStrict(namespaceCfg.spec?.mtls);
  if (workloadCfg) {
    const w = workloadCfg.spec?.mtls;
    if (isStrict(w)) strict = true;
    if (isPermissive(w) || isDisable(w)) strict = false;
    if (workloadCfg.spec?.portLevelMtls !== undefined) {
      const ports = portLevel(workloadCfg).map(([, m]) => m);
      switch (modeOf(w)) {
        case 'STRICT':
          if (ports.some((m) => isPermissive(m) || isDisable(m))) {
            portLevelKey = convertedKey(workloadCfg);
            strict = false;
          }
          break;
        case 'PERMISSIVE':
        case 'DISABLE':
          if (ports.some(isStrict)) portLevelKey = convertedKey(workloadCfg);
          break;
        default: // UNSET
          if (strict) {
            // only PERMISSIVE counts here, not DISABLE (as written upstream)
            if (ports.some(isPermissive)) {
              portLevelKey = convertedKey(workloadCfg);
              strict = false;
            }
          } else if (ports.some(isStrict)) portLevelKey = convertedKey(workloadCfg);
      }
    }
  }
  const keys: string[] = [];
  if (strict) keys.push(`${root}/${STATIC_STRICT_POLICY}`);
  if (portLevelKey) keys.push(portLevelKey);
  return keys;
}

const noIdentity = (): RbacMatch => ({ ...emptyMatch(), notPrincipals: [{ kind: 'presence' }] });

/**
 * authorization.go convertPeerAuthentication: a workload PeerAuthentication with portLevelMtls becomes a DENY
 * policy (merged with the namespace/mesh STRICT mode where needed). nsCfg/rootCfg are the oldest selector-less
 * policies of the namespace and of the root namespace (policies.go PeerAuthByNamespace).
 */
function convertPeerAuthentication(
  root: string,
  cfg: PeerAuthentication,
  nsCfg: PeerAuthentication | undefined,
  rootCfg: PeerAuthentication | undefined,
): ZtunnelPolicy | undefined {
  const pa = cfg.spec ?? {};
  const mode = modeOf(pa.mtls);
  if (nsOf(cfg) === root || pa.selector === undefined || Object.keys(pa.portLevelMtls ?? {}).length === 0) {
    return undefined;
  }
  const nsMtls = nsCfg?.spec?.mtls;
  const rootMtls = rootCfg?.spec?.mtls;
  const clauses: RbacMatch[][] = [];
  const rules: RbacMatch[][][] = [];
  if (mode === 'STRICT') clauses.push([noIdentity()]);
  let foundNonStrict = false;
  for (const [port, m] of portLevel(cfg)) {
    const portMode = modeOf(m);
    if (portMode === 'STRICT') {
      // Go: A || (B && C || D) — D (mesh STRICT) is not guarded by "workload mode unset"; see README.
      const enforcedByParent =
        isStrict(pa.mtls) ||
        (isUnset(pa.mtls) && nsCfg !== undefined && isStrict(nsMtls)) ||
        ((nsCfg === undefined || isUnset(nsMtls)) && rootCfg !== undefined && isStrict(rootMtls));
      if (enforcedByParent) continue;
      rules.push([[{ ...noIdentity(), destinationPorts: [port] }]]);
    } else if (portMode === 'PERMISSIVE' || portMode === 'DISABLE') {
      if (mode === 'PERMISSIVE' || mode === 'DISABLE') continue;
      if (
        mode === 'UNSET' &&
        ((nsCfg !== undefined && !isStrict(nsMtls)) ||
          (nsCfg === undefined && rootCfg !== undefined && !isStrict(rootMtls)) ||
          (nsCfg === undefined && rootCfg === undefined))
      ) {
        continue;
      }
      foundNonStrict = true;
      clauses.push([{ ...emptyMatch(), notDestinationPorts: [port] }]);
    }
  }
  if (mode === 'STRICT' && !foundNonStrict) return undefined;
  if (clauses.length === 0 && rules.length === 0) return undefined;
  const shouldMergeStrict =
    (rootCfg !== undefined &&
      isStrict(rootMtls) &&
      (nsCfg === undefined || isUnset(nsMtls) || isStrict(nsMtls))) ||
    (nsCfg !== undefined && isStrict(nsMtls));
  if (shouldMergeStrict && foundNonStrict) clauses.push([noIdentity()]);
  if (clauses.length > 0) rules.push(clauses);
  return {
    namespace: nsOf(cfg),
    name: CONVERTED_PA_PREFIX + cfg.metadata.name,
    scope: 'WorkloadSelector',
    action: 'Deny',
    rules,
  };
}

/** Every policy istiod sends to ztunnel (policies.go PolicyCollections: Authz + PeerAuth derived + DefaultPolicy), by "ns/name". */
export function allZtunnelPolicies(objects: TwinObjects): Map<string, ZtunnelPolicy> {
  const root = objects.rootNamespace;
  const out = new Map<string, ZtunnelPolicy>();
  for (const ap of objects.authorizationPolicies) {
    const p = convertAuthorizationPolicy(root, ap);
    if (p) out.set(keyOf(p), p);
  }
  const selectorLess = (ns: string) =>
    oldest(objects.peerAuthentications.filter((pa) => nsOf(pa) === ns && pa.spec?.selector === undefined));
  for (const pa of objects.peerAuthentications) {
    const p = convertPeerAuthentication(root, pa, selectorLess(nsOf(pa)), selectorLess(root));
    if (p) out.set(keyOf(p), p);
  }
  if (objects.peerAuthentications.length > 0) {
    // DefaultPolicy: sent whenever any PeerAuthentication exists; DENY when there is no identity.
    const p: ZtunnelPolicy = {
      namespace: root,
      name: STATIC_STRICT_POLICY,
      scope: 'WorkloadSelector',
      action: 'Deny',
      rules: [[[noIdentity()]]],
    };
    out.set(keyOf(p), p);
  }
  return out;
}

/**
 * workloads.go buildWorkloadPolicies: the selector policies of the workload's namespace or of the root namespace
 * whose matchLabels are a subset of the pod's labels (a selector without matchLabels attaches to nothing:
 * GetLabelSelector() is nil), then the PeerAuthentication keys.
 */
export function workloadPolicyKeys(
  objects: TwinObjects,
  policies: Map<string, ZtunnelPolicy>,
  pod: Pod,
): string[] {
  const keys: string[] = [];
  for (const [key, p] of policies) {
    if (p.matchLabels === undefined || p.scope !== 'WorkloadSelector') continue;
    if (p.namespace !== objects.rootNamespace && p.namespace !== nsOf(pod)) continue;
    if (subsetOf(p.matchLabels, labelsOf(pod))) keys.push(key);
  }
  keys.sort();
  keys.push(
    ...convertedSelectorPeerAuthentications(objects.rootNamespace, fetchPeerAuthentications(objects, pod)),
  );
  return keys;
}

interface RbacConnection {
  /** the source identity parsed from the peer certificate; absent for plaintext */
  srcIdentity?: { namespace: string; serviceAccount: string; id: string } | undefined;
  srcIp: string;
  dstIp: string;
  /** the app port: inbound HBONE swaps 15008 for the real port (zt@1.28.3 src/proxy/inbound.rs) */
  dstPort: number;
}

function stringMatches(m: StringMatch, check: string): boolean {
  switch (m.kind) {
    case 'prefix':
      return check.startsWith(m.v);
    case 'suffix':
      return check.endsWith(m.v);
    case 'exact':
      return check === m.v;
    case 'presence':
      return check !== '';
  }
}

/** rbac.rs matches_internal: any positive (or none declared) AND no negative. */
function matchesInternal<T>(positive: T[], negative: T[], pred: (t: T) => boolean): boolean {
  const pm = positive.length === 0 || positive.some(pred);
  const nm = negative.length === 0 || !negative.some(pred);
  return pm && nm;
}

function isEmptyMatch(m: RbacMatch): boolean {
  return Object.values(m).every((v: unknown[]) => v.length === 0);
}

/**
 * zt@1.28.3 src/rbac.rs Authorization::matches. No rules: no match. A rule matches when all its clauses match;
 * a clause matches when one of its non-empty matches does — an empty match is skipped, so a clause made only of
 * empty matches never matches, while a rule without clauses always does. Principals are compared without
 * "spiffe://"; namespaces come from the peer identity.
 */
function policyMatches(pol: ZtunnelPolicy, conn: RbacConnection): boolean {
  const id = conn.srcIdentity?.id ?? '';
  const ns = conn.srcIdentity?.namespace ?? '';
  if (pol.rules.length === 0) return false;
  for (const rule of pol.rules) {
    let ruleMatch = true;
    for (const clause of rule) {
      let clauseMatch = false;
      for (const mg of clause) {
        if (isEmptyMatch(mg)) continue;
        let m = true;
        m &&= matchesInternal(mg.destinationIps, mg.notDestinationIps, (c) => cidrContains(c, conn.dstIp));
        m &&= matchesInternal(mg.sourceIps, mg.notSourceIps, (c) => cidrContains(c, conn.srcIp));
        m &&= matchesInternal(mg.destinationPorts, mg.notDestinationPorts, (p) => p === conn.dstPort);
        m &&= matchesInternal(
          mg.serviceAccounts,
          mg.notServiceAccounts,
          (sa) =>
            conn.srcIdentity !== undefined &&
            sa.namespace === conn.srcIdentity.namespace &&
            sa.serviceAccount === conn.srcIdentity.serviceAccount,
        );
        m &&= matchesInternal(mg.principals, mg.notPrincipals, (p) =>
          id.startsWith('spiffe://') ? stringMatches(p, id.slice('spiffe://'.length)) : false,
        );
        m &&= matchesInternal(mg.namespaces, mg.notNamespaces, (p) => stringMatches(p, ns));
        if (m) {
          clauseMatch = true;
          break;
        }
      }
      if (clause.length === 0) clauseMatch = true;
      ruleMatch &&= clauseMatch;
      if (!ruleMatch) break;
    }
    if (ruleMatch) return true;
  }
  return false;
}

/**
 * zt@1.28.3 src/state.rs assert_rbac: policies of the workload's namespace, global ones, and the workload's own
 * list (unknown keys skipped); any matching DENY denies; no ALLOW allows; a matching ALLOW allows; else deny.
 */
function ztunnelAuthorize(
  objects: TwinObjects,
  dst: Pod,
  conn: RbacConnection,
): { allowed: boolean; why: string } {
  const policies = allZtunnelPolicies(objects);
  const keys = [
    ...[...policies.values()].filter((p) => p.scope === 'Namespace' && p.namespace === nsOf(dst)).map(keyOf),
    ...[...policies.values()].filter((p) => p.scope === 'Global').map(keyOf),
    ...workloadPolicyKeys(objects, policies, dst),
  ];
  const applied = keys.flatMap((k) => policies.get(k) ?? []);
  const deny = applied.filter((p) => p.action === 'Deny');
  const allow = applied.filter((p) => p.action === 'Allow');
  for (const p of deny) {
    if (policyMatches(p, conn)) return { allowed: false, why: `explicitly denied by: ${keyOf(p)}` };
  }
  if (allow.length === 0) return { allowed: true, why: 'no allow policies' };
  for (const p of allow) {
    if (policyMatches(p, conn)) return { allowed: true, why: `allowed by ${keyOf(p)}` };
  }
  return { allowed: false, why: 'allow policies exist, but none allowed' };
}

// ---------------------------------------------------------------------------------------------------------
// 4–5. The connection
// ---------------------------------------------------------------------------------------------------------

/**
 * Decide one TCP connection `c` (curl from pod `c.from` to `c.toIp:c.port`).
 * Throws for inputs outside the twin's scope (unknown or host-network source).
 */
export function decide(objects: TwinObjects, c: Connection, curl: CurlOptions = DEFAULT_CURL): Decision {
  const src = objects.pods.find((p) => nsOf(p) === c.from.namespace && p.metadata.name === c.from.name);
  if (!src) throw new Error(`twin dataplane: no pod ${c.from.namespace}/${c.from.name}`);
  if (src.spec?.hostNetwork) throw new Error('twin dataplane: host-network sources are out of scope (TODO)');
  const srcIp = podIps(src)[0];
  if (!srcIp) throw new Error(`twin dataplane: pod ${c.from.namespace}/${c.from.name} has no IP`);

  // Who owns the destination IP: a pod-network pod, else a host-network pod on that node IP.
  const dst =
    npPodForIp(objects, c.toIp) ??
    objects.pods.find((p) => p.spec?.hostNetwork && !isTerminal(p) && podIps(p).includes(c.toIp));
  const npDst = dst && !dst.spec?.hostNetwork ? dst : undefined;
  const dstName = dst ? `${nsOf(dst)}/${dst.metadata.name}` : c.toIp;

  const srcEnrolled = isEnrolled(src);
  const dstEnrolled = dst !== undefined && !dst.spec?.hostNetwork && isEnrolled(dst);
  // workloads.go setTunnelProtocol: HBONE for the annotation, or for the native tunnel label (waypoints).
  // istio@1.28.3 pilot/pkg/model/service.go SupportsTunnel: the label is a comma-separated list.
  const dstNativeTunnel =
    dst !== undefined && (labelsOf(dst)['networking.istio.io/tunnel'] ?? '').split(',').includes('http');
  // zt@1.28.3 src/proxy/outbound.rs build_request: an InboundProtocol::HBONE workload is reached on
  // <selected workload IP>:15008, from the source pod's netns (so from the source pod's own IP).
  const hbone = srcEnrolled && (dstEnrolled || dstNativeTunnel);
  const judgedPort = hbone ? HBONE_PORT : c.port;
  const sourceIdentity = hbone ? identityOf(src) : undefined;
  const base = { hbone, judgedPort, ...(sourceIdentity ? { sourceIdentity } : {}) };

  const connected = (why: string): Decision => ({
    outcome: 'connected',
    curlExit: 0,
    seconds: 0,
    ...base,
    why,
  });
  // Connection accepted, then closed with unread request bytes in the socket: Linux sends RST, curl reports
  // "Recv failure: Connection reset by peer" (exit 56).
  const reset = (why: string): Decision => ({ outcome: 'reset', curlExit: 56, seconds: 0, ...base, why });
  const refused = (why: string): Decision => ({ outcome: 'refused', curlExit: 7, seconds: 0, ...base, why });
  // curl's own SYN is dropped: it gives up at --connect-timeout (exit 28).
  const curlTimeout = (why: string): Decision => ({
    outcome: 'timeout',
    curlExit: 28,
    seconds: Math.min(curl.connectTimeout, curl.maxTime),
    ...base,
    why,
  });
  // ztunnel's SYN is dropped: it has already accepted curl's connection; freebind_connect gives up after
  // CONNECTION_TIMEOUT (zt@1.28.3 src/proxy.rs:687; for HBONE pool.rs maps it to "maybe a NetworkPolicy is
  // blocking HBONE port 15008") and drops curl's socket: RST, exit 56 — unless --max-time fires first.
  const ztunnelTimeout = (why: string): Decision =>
    ZTUNNEL_CONNECT_TIMEOUT_SECONDS < curl.maxTime
      ? { outcome: 'timeout', curlExit: 56, seconds: ZTUNNEL_CONNECT_TIMEOUT_SECONDS, ...base, why }
      : { outcome: 'timeout', curlExit: 28, seconds: curl.maxTime, ...base, why };

  // A pending source: its outbound is redirected to 15001 in its own netns, where no ztunnel listens yet.
  if (unserved(objects, src))
    return refused(
      `source ${c.from.namespace}/${c.from.name} is redirected but no ztunnel serves it: nothing on 15001`,
    );

  const np = networkPolicyAllows(objects, { pod: src, ip: srcIp }, { pod: npDst, ip: c.toIp }, judgedPort);

  if (!srcEnrolled) {
    // Plaintext from the source pod's own socket: NetworkPolicy judges the app port on the node.
    if (!np.allowed) return curlTimeout(`NetworkPolicy dropped plaintext SYN (${np.why})`);
    if (!dst) return curlTimeout(`no pod has IP ${c.toIp}`);
    if (!dst.spec?.hostNetwork && unserved(objects, dst)) {
      return refused(`${dstName} is redirected but no ztunnel serves it: nothing listens on 15006`);
    }
    if (dstEnrolled) {
      // In the destination netns every TCP port but 15008 is REDIRECTed to ztunnel's 15006 (istio@1.28.3
      // cni/pkg/iptables/iptables.go ISTIO_PRERT), so the connect succeeds whatever follows.
      if (c.port === HBONE_PORT) {
        return reset(`plaintext to ${dstName}:15008 meets ztunnel's TLS listener (not modelled precisely)`);
      }
      // zt@1.28.3 src/proxy/inbound_passthrough.rs proxy_inbound_plaintext: src_identity None, assert_rbac,
      // then freebind_connect to the app; either failure drops the client stream.
      const rbac = ztunnelAuthorize(objects, dst, { srcIp, dstIp: c.toIp, dstPort: c.port });
      if (!rbac.allowed) return reset(`ztunnel at ${dstName} (plaintext): ${rbac.why}`);
      if (!listensOn(dst, c.port)) return reset(`ztunnel at ${dstName}: nothing listens on ${c.port}`);
      return connected(`plaintext via ztunnel inbound at ${dstName} (${rbac.why})`);
    }
    if (!listensOn(dst, c.port)) return refused(`nothing listens on ${dstName}:${c.port}`);
    return connected(`plaintext ${c.from.namespace}/${c.from.name} -> ${dstName}:${c.port}`);
  }

  // Enrolled source: curl's connect is accepted at once by ztunnel's outbound listener (15001) in its own netns.
  if (!np.allowed) return ztunnelTimeout(`ztunnel connect to ${c.toIp}:${judgedPort} timed out (${np.why})`);
  if (!dst) return ztunnelTimeout(`ztunnel passthrough: no pod has IP ${c.toIp}`);
  if (!hbone) {
    // outbound.rs proxy_to_tcp: passthrough to a non-mesh destination; a refused upstream drops curl's stream.
    if (!dst.spec?.hostNetwork && unserved(objects, dst))
      return reset(`${dstName} is redirected but no ztunnel serves it: nothing on 15006`);
    if (!listensOn(dst, c.port)) return reset(`ztunnel passthrough: ${dstName}:${c.port} refused`);
    return connected(`ztunnel passthrough (TCP) to ${dstName}:${c.port}`);
  }
  if (!dstEnrolled) {
    return connected(`HBONE to native tunnel endpoint ${dstName} (its own proxy's policy is out of scope)`);
  }
  // No ztunnel in the destination's netns: its 15008 is closed, the source ztunnel's connect is refused
  // and it drops curl's stream.
  if (unserved(objects, dst)) return reset(`HBONE connect to ${dstName}:15008 refused: no ztunnel serves it`);
  // inbound.rs serve_connect: assert_rbac first (401 on denial), then connect to the app (503 on failure); the
  // source's h2 client turns a non-200 into Error::HttpStatus (src/proxy/h2/client.rs) and drops curl's stream.
  const rbac = ztunnelAuthorize(objects, dst, {
    srcIdentity: { namespace: nsOf(src), serviceAccount: serviceAccountOf(src), id: identityOf(src) },
    srcIp,
    dstIp: c.toIp,
    dstPort: c.port,
  });
  if (!rbac.allowed) return reset(`HBONE 401 from ${dstName}: ${rbac.why}`);
  if (!listensOn(dst, c.port)) return reset(`HBONE 503 from ${dstName}: nothing listens on ${c.port}`);
  return connected(`HBONE ${identityOf(src)} -> ${dstName}:${c.port} (${rbac.why})`);
}

/**
 * istiod's conversions as the twin reads them, exported only so tests can hold them against istio's own golden
 * files (istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/testdata, TestRBACConvert).
 */
export const upstreamConversions = { convertAuthorizationPolicy, convertPeerAuthentication };
export type { ZtunnelPolicy, RbacMatch, StringMatch };
