import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import net from 'node:net';
import type { KubeObject, StoreEvent, TwinStore } from './apiserver.ts';
import {
  allZtunnelPolicies,
  isEnrolled,
  workloadPolicyKeys,
  ZTUNNEL_CONNECT_TIMEOUT_SECONDS,
  HBONE_PORT,
  type AuthorizationPolicy,
  type PeerAuthentication,
  type Pod,
  type RbacMatch,
  type StringMatch,
  type TwinObjects,
  type ZtunnelPolicy,
} from './dataplane.ts';
import type { ConnectionRecord, Endpoint, Traffic } from './traffic.ts';

/**
 * The twin's ztunnel: what each ztunnel pod of a simulated Istio ambient 1.28.3 cluster shows about
 * itself, derived from the twin's objects (a TwinStore) and its connection log (traffic.ts):
 *
 * - the admin server on 15000 (`/config_dump`), reached through a port-forward;
 * - the stats server on 15020 (`/metrics`, `/stats/prometheus`);
 * - the container log (container `istio-proxy`): the access log lines of the connections it
 *   proxied, and its enrollment lines.
 *
 *   zt@1.28.3    = github.com/istio/ztunnel, tag 1.28.3 (commit 8bda303b)
 *   istio@1.28.3 = github.com/istio/istio, tag 1.28.3
 *
 * The formats are upstream's and are held byte for byte against test/fixtures/ztunnel/ (see
 * ztunnel.test.ts). The values are the twin's: a ztunnel pod knows what istiod would have sent it
 * (every pod of the cluster as a workload, the converted policies) and the connections the twin's
 * dataplane decided, as the ztunnel on the source's or the destination's node would have proxied
 * them.
 *
 * Simplifications (each one marked where it is made):
 * - istiod's pushes are immediate: a pod that loses its redirection annotation is TCP in the very
 *   next dump (in a cluster, only after istiod's next push).
 * - No Services (the dataplane has no VIPs, see README): `services` is empty, workloads carry no
 *   `services`, the destination_service labels are "unknown". No locality: kind nodes have no
 *   topology labels.
 * - Certificates are issued at once (never "Initializing") by a throwaway ECDSA CA standing in for
 *   istiod's self-signed root.
 * - Metrics: istio_build, the four TCP families, istio_on_demand_dns (empty) and the
 *   workload_manager_* families; no process, xDS or DNS metrics.
 * - Logs: the version line, the in-pod enrollment lines and the access log; a connection is logged
 *   when its ConnectionRecord arrives (at its end time), only records added after attachZtunnel.
 *   The destination of an HBONE connection sees the client's port (the twin has no port for the
 *   source ztunnel's own HBONE socket).
 * - The admin paths that exist but are not modelled (/, /logging, /quitquitquit, /debug/pprof/*)
 *   answer 501 with a note rather than imitating ztunnel.
 */

// ---------------------------------------------------------------------------------------------------------
// Identity of the ztunnel pods and constants
// ---------------------------------------------------------------------------------------------------------

/** The chart's DaemonSet pod label and container (harness/kube/ops.ts ISTIO_OBJECTS.ztunnel). */
export const ZTUNNEL_LABEL = { key: 'app', value: 'ztunnel' } as const;

/**
 * The nodes a ztunnel serves: those with a Running, Ready ztunnel pod (labelled as the chart labels
 * it) in the Istio namespace that is not being deleted. The dataplane's TwinObjects.ztunnelNodes.
 */
export function ztunnelNodes(
  pods: { metadata: KubeObject['metadata']; spec?: { nodeName?: string }; status?: PodObject['status'] }[],
  istioNamespace = 'istio-system',
): string[] {
  return pods
    .filter(
      (p) =>
        p.metadata.namespace === istioNamespace &&
        p.metadata.labels?.[ZTUNNEL_LABEL.key] === ZTUNNEL_LABEL.value &&
        !p.metadata.deletionTimestamp &&
        p.status?.phase === 'Running' &&
        (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((p) => p.spec?.nodeName ?? '');
}
export const ZTUNNEL_CONTAINER = 'istio-proxy';
/** zt@1.28.3 src/config.rs: admin on localhost:15000, stats on :15020. */
export const ADMIN_PORT = 15000;
export const STATS_PORT = 15020;

/** The chart's ISTIO_META_CLUSTER_ID and istiod's default cluster ID; ztunnel's default too (workload.rs). */
const CLUSTER_ID = 'Kubernetes';
const TRUST_DOMAIN = 'cluster.local';

/** zt@1.28.3 src/version.rs BuildInfo, as the 1.28.3 release image reports it (fixture config_dump.json). */
const BUILD_INFO = {
  version: '1.28.3',
  gitRevision: '8bda303b0cfac76d3ab99b7e1ed3def71082fc9f',
  rustVersion: '1.90.0',
  buildProfile: 'release',
  buildStatus: 'Clean',
  istioVersion: '1.28.3',
  cryptoProvider: 'tls-aws-lc',
};

/** istio@1.28.3 pkg/config/constants: a networking.istio.io/tunnel label listing "http" makes a native HBONE endpoint. */
const TUNNEL_LABEL = 'networking.istio.io/tunnel';

type J = Record<string, unknown>;

export interface PortTarget {
  http(req: { method: string; path: string; headers: Record<string, string> }): HttpReply;
}

export interface HttpReply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface ZtunnelOptions {
  store: TwinStore;
  traffic: Traffic;
  /** The twin clock (default new Date()); give the store's, so that pods/log sinceSeconds agrees. */
  clock?: () => Date;
  /** Where the ztunnel DaemonSet runs, also meshConfig.rootNamespace (default istio-system). */
  istioNamespace?: string;
}

export interface ZtunnelTwin {
  /**
   * What answers a port-forward to `pod`:`port`: ztunnel's admin (15000) or stats (15020) server
   * while the pod is a Running, Ready ztunnel pod; undefined where nothing listens.
   */
  portForward(pod: KubeObject, port: number): PortTarget | undefined;
  stop(): void;
}

// ---------------------------------------------------------------------------------------------------------
// Pods as istiod sends them to ztunnel (istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/
// workloads.go podWorkloadBuilder) and as ztunnel dumps them (zt@1.28.3 src/state/workload.rs Workload)
// ---------------------------------------------------------------------------------------------------------

type PodObject = Pod & {
  metadata: Pod['metadata'] & {
    uid?: string;
    generateName?: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  status?: Pod['status'] & { conditions?: { type: string; status: string }[] };
};

/** One pod as ztunnel knows it: the fields of zt@1.28.3 src/state/workload.rs Workload the twin fills. */
interface WorkloadInfo {
  /** istiod's generatePodUID: "<cluster>//Pod/<ns>/<name>" (helpers.go). */
  uid: string;
  name: string;
  namespace: string;
  workloadIps: string[];
  protocol: 'HBONE' | 'TCP';
  networkMode: 'Standard' | 'HostNetwork';
  serviceAccount: string;
  workloadName: string;
  canonicalName: string;
  canonicalRevision: string;
  node: string;
  nativeTunnel: boolean;
  authorizationPolicies: string[];
  status: 'Healthy' | 'Unhealthy';
}

const podIps = (p: Pod): string[] => {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip);
  return ips.length ? ips : p.status?.podIP ? [p.status.podIP] : [];
};
const isTerminal = (p: Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const isReady = (p: PodObject) =>
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/**
 * istio@1.28.3 pkg/kube/util.go GetWorkloadMetaFromPod: a generated pod takes its controller's name
 * (a ReplicaSet's minus its pod-template-hash, a Job's minus a CronJob timestamp), then the label
 * service.istio.io/workload-name overrides.
 */
function workloadNameOf(p: PodObject): string {
  const labels = p.metadata.labels ?? {};
  let name = p.metadata.name;
  if (p.metadata.generateName) {
    const ref = (p.metadata.ownerReferences ?? []).find((r) => r.controller === true);
    if (ref) {
      name = ref.name;
      const hash = labels['pod-template-hash'];
      const rollout = labels['rollouts-pod-template-hash'];
      if (ref.kind === 'ReplicaSet' && hash && ref.name.endsWith(hash))
        name = ref.name.slice(0, -hash.length - 1);
      else if (ref.kind === 'ReplicaSet' && rollout && ref.name.endsWith(rollout))
        name = ref.name.slice(0, -rollout.length - 1);
      else if (ref.kind === 'ReplicationController' && labels['deploymentconfig'])
        name = labels['deploymentconfig'];
      else if (ref.kind === 'Job') name = /^(.+)-\d{8,10}$/.exec(ref.name)?.[1] ?? name;
    }
  }
  if (!name) name = p.metadata.name;
  return labels['service.istio.io/workload-name'] ?? name;
}

/** istio@1.28.3 pkg/kube/labels/labels.go CanonicalService: name and revision with their fallbacks. */
function canonicalServiceOf(labels: Record<string, string>, workloadName: string): [string, string] {
  const first = (keys: string[]) => keys.map((k) => labels[k]).find((v) => v !== undefined);
  return [
    first(['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app']) ?? workloadName,
    first(['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version']) ?? 'latest',
  ];
}

/** podWorkloadBuilder: terminal pods and pods without an IP are no workload. */
function workloadOf(p: PodObject, policyKeys: (p: Pod) => string[]): WorkloadInfo | undefined {
  const ips = podIps(p);
  if (isTerminal(p) || ips.length === 0) return undefined;
  const workloadName = workloadNameOf(p);
  const [canonicalName, canonicalRevision] = canonicalServiceOf(p.metadata.labels ?? {}, workloadName);
  // istio@1.28.3 pilot/pkg/model/service.go SupportsTunnel: a comma-separated list.
  const nativeTunnel = (p.metadata.labels?.[TUNNEL_LABEL] ?? '').split(',').includes('http');
  return {
    uid: `${CLUSTER_ID}//Pod/${p.metadata.namespace ?? ''}/${p.metadata.name}`,
    name: p.metadata.name,
    namespace: p.metadata.namespace ?? '',
    workloadIps: ips,
    // workloads.go setTunnelProtocol
    protocol: isEnrolled(p) || nativeTunnel ? 'HBONE' : 'TCP',
    networkMode: p.spec?.hostNetwork ? 'HostNetwork' : 'Standard',
    // ztunnel fills an empty service account with "default" (workload.rs)
    serviceAccount: p.spec?.serviceAccountName || 'default',
    workloadName,
    canonicalName,
    canonicalRevision,
    node: p.spec?.nodeName ?? '',
    nativeTunnel,
    authorizationPolicies: policyKeys(p),
    status: isReady(p) && !p.metadata.deletionTimestamp ? 'Healthy' : 'Unhealthy',
  };
}

/**
 * The dump of one workload (zt@1.28.3 src/state/workload.rs: empty optional fields are skipped;
 * protocol, networkMode, name, namespace, status, clusterId and capacity always appear).
 */
function dumpWorkload(w: WorkloadInfo): J {
  return {
    workloadIps: w.workloadIps,
    protocol: w.protocol,
    networkMode: w.networkMode,
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    trustDomain: TRUST_DOMAIN,
    serviceAccount: w.serviceAccount,
    ...(w.workloadName ? { workloadName: w.workloadName } : {}),
    // istiod sends WorkloadType_POD; ztunnel lowercases the enum name
    workloadType: 'pod',
    ...(w.canonicalName ? { canonicalName: w.canonicalName } : {}),
    ...(w.canonicalRevision ? { canonicalRevision: w.canonicalRevision } : {}),
    ...(w.node ? { node: w.node } : {}),
    ...(w.nativeTunnel ? { nativeTunnel: true } : {}),
    ...(w.authorizationPolicies.length ? { authorizationPolicies: w.authorizationPolicies } : {}),
    status: w.status,
    clusterId: CLUSTER_ID,
    capacity: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Policies (istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/policies.go PolicyCollections,
// authorization.go) as ztunnel dumps them (zt@1.28.3 src/rbac.rs Authorization)
// ---------------------------------------------------------------------------------------------------------

const creation = (o: { metadata: { creationTimestamp?: string } }) =>
  o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : 0;

interface MeshPolicies {
  /** Every policy istiod sends, by "ns/name". */
  all: Map<string, ZtunnelPolicy>;
  /** buildWorkloadPolicies for one pod. */
  keysFor: (p: Pod) => string[];
}

/**
 * istio@1.28.3 policies.go PolicyCollections and workloads.go buildWorkloadPolicies, as the
 * dataplane reads them (one reading of upstream for both: dataplane.ts allZtunnelPolicies and
 * workloadPolicyKeys).
 */
function meshPolicies(pas: PeerAuthentication[], aps: AuthorizationPolicy[], root: string): MeshPolicies {
  const objects: TwinObjects = {
    namespaces: [],
    pods: [],
    networkPolicies: [],
    peerAuthentications: pas,
    authorizationPolicies: aps,
    rootNamespace: root,
  };
  const all = allZtunnelPolicies(objects);
  return { all, keysFor: (p) => workloadPolicyKeys(objects, all, p) };
}

/** zt@1.28.3 src/rbac.rs StringMatch: an externally tagged enum; Presence() is an empty tuple. */
function dumpStringMatch(m: StringMatch): J {
  switch (m.kind) {
    case 'exact':
      return { Exact: m.v };
    case 'prefix':
      return { Prefix: m.v };
    case 'suffix':
      return { Suffix: m.v };
    case 'presence':
      return { Presence: [] };
  }
}

/** zt@1.28.3 src/rbac.rs RbacMatch: empty lists skipped; IpNet as "<addr>/<len>". */
function dumpMatch(m: RbacMatch): J {
  const out: J = {};
  const cidr = (c: { ip: string; bits: number }) => `${c.ip}/${c.bits}`;
  const put = (k: string, v: unknown[]) => v.length && (out[k] = v);
  put('namespaces', m.namespaces.map(dumpStringMatch));
  put('notNamespaces', m.notNamespaces.map(dumpStringMatch));
  put('serviceAccounts', m.serviceAccounts);
  put('notServiceAccounts', m.notServiceAccounts);
  put('principals', m.principals.map(dumpStringMatch));
  put('notPrincipals', m.notPrincipals.map(dumpStringMatch));
  put('sourceIps', m.sourceIps.map(cidr));
  put('notSourceIps', m.notSourceIps.map(cidr));
  put('destinationIps', m.destinationIps.map(cidr));
  put('notDestinationIps', m.notDestinationIps.map(cidr));
  put('destinationPorts', m.destinationPorts);
  put('notDestinationPorts', m.notDestinationPorts);
  return out;
}

function dumpPolicy(p: ZtunnelPolicy): J {
  return {
    name: p.name,
    namespace: p.namespace,
    scope: p.scope,
    action: p.action,
    rules: p.rules.map((rule) => rule.map((clause) => clause.map(dumpMatch))),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Certificates: a minimal X.509 issuer (node:crypto signs, but does not build certificates)
// ---------------------------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]) => {
  const c = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(c.length), c]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
function derInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return tlv(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function derOid(s: string): Buffer {
  const [a = 0, b = 0, ...rest] = s.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) groups.unshift((x & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}
/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime after. */
function derTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${s.slice(2)}Z`))
    : tlv(0x18, Buffer.from(`${s}Z`));
}
const ext = (oid: string, critical: boolean, value: Buffer) =>
  seq(derOid(oid), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
/** O=cluster.local, the subject of istiod's self-signed root (security/pkg/pki/util/generate_cert.go Org). */
const ORG_NAME = seq(tlv(0x31, seq(derOid('2.5.4.10'), tlv(0x13, Buffer.from(TRUST_DOMAIN)))));
const ECDSA_SHA256 = seq(derOid('1.2.840.10045.4.3.2'));

interface IssuedCert {
  der: Buffer;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
}

/** An ECDSA P-256 certificate signed with `issuerKey` (SHA-256). */
function issueCert(opts: {
  subject: Buffer;
  issuer: Buffer;
  publicKey: KeyObject;
  issuerKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): IssuedCert {
  // security/pkg/pki/util/generate_cert.go genSerialNum: uniform below 2^128.
  const serial = BigInt(`0x${randomBytes(16).toString('hex')}`) || 1n;
  const notBefore = new Date(Math.floor(opts.notBefore.getTime() / 1000) * 1000);
  const notAfter = new Date(Math.floor(opts.notAfter.getTime() / 1000) * 1000);
  const tbs = seq(
    tlv(0xa0, derInteger(2n)),
    derInteger(serial),
    ECDSA_SHA256,
    opts.issuer,
    seq(derTime(notBefore), derTime(notAfter)),
    opts.subject,
    opts.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...opts.extensions)),
  );
  const signature = sign('sha256', tbs, opts.issuerKey);
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  return { der, serial, notBefore, notAfter };
}

/** zt@1.28.3 src/tls/certificate.rs der_to_pem: 64-column base64 between the markers. */
function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The mesh CA: istiod's self-signed root (O=cluster.local, 10 years, keyCertSign). */
class MeshCa {
  private readonly key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  readonly root: IssuedCert;

  constructor(now: Date) {
    this.root = issueCert({
      subject: ORG_NAME,
      issuer: ORG_NAME,
      publicKey: this.key.publicKey,
      issuerKey: this.key.privateKey,
      notBefore: now,
      notAfter: new Date(now.getTime() + 3650 * 86_400_000),
      extensions: [
        ext('2.5.29.15', true, tlv(0x03, Buffer.from([2, 0x04]))), // keyCertSign
        ext('2.5.29.19', true, seq(tlv(0x01, Buffer.from([0xff])))), // CA:TRUE
      ],
    });
  }

  /**
   * A workload certificate as istiod signs it (security/pkg/pki/util/generate_cert.go
   * GenCertFromCSR template): no subject, the SPIFFE URI as the only SAN, valid from 2 minutes
   * before issue (ClockSkewGracePeriod) for the requested TTL (ztunnel asks for 24 h).
   */
  issue(identity: string, now: Date): IssuedCert {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return issueCert({
      subject: seq(),
      issuer: ORG_NAME,
      publicKey,
      issuerKey: this.key.privateKey,
      notBefore: new Date(now.getTime() - 2 * 60_000),
      notAfter: new Date(now.getTime() + 24 * 3_600_000),
      extensions: [
        ext('2.5.29.15', true, tlv(0x03, Buffer.from([5, 0xa0]))), // digitalSignature, keyEncipherment
        ext('2.5.29.37', false, seq(derOid('1.3.6.1.5.5.7.3.1'), derOid('1.3.6.1.5.5.7.3.2'))),
        ext('2.5.29.19', true, seq()),
        ext('2.5.29.17', true, seq(tlv(0x86, Buffer.from(identity)))),
      ],
    });
  }
}

/** zt@1.28.3 src/admin.rs dump_cert: pem is base64 of the PEM text, serial decimal, times RFC 3339 seconds. */
function dumpCert(c: IssuedCert): J {
  const secs = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    pem: Buffer.from(pemOf(c.der)).toString('base64'),
    serialNumber: c.serial.toString(10),
    validFrom: secs(c.notBefore),
    expirationTime: secs(c.notAfter),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Metrics (zt@1.28.3 src/proxy/metrics.rs, src/metrics/meta.rs, src/inpod/metrics.rs; prometheus-client
// 0.23.1's OpenMetrics text: "." appended to help, counters as <name>_total, label values unescaped, "# EOF")
// ---------------------------------------------------------------------------------------------------------

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  /** Encoded label set (without braces, '' for none) → value, in creation order. */
  series: Map<string, number>;
}

const family = (name: string, help: string, type: Family['type']): Family => ({
  name,
  help,
  type,
  series: new Map(),
});

/** One ztunnel process's registry, in registration order (src/app.rs: istio_* before workload_manager_*). */
class Registry {
  readonly build = family('istio_build', 'Istio component build info', 'gauge');
  readonly opened = family(
    'istio_tcp_connections_opened',
    'The total number of TCP connections opened',
    'counter',
  );
  readonly closed = family(
    'istio_tcp_connections_closed',
    'The total number of TCP connections closed',
    'counter',
  );
  readonly received = family(
    'istio_tcp_received_bytes',
    'The size of total bytes received during request in case of a TCP connection',
    'counter',
  );
  readonly sent = family(
    'istio_tcp_sent_bytes',
    'The size of total bytes sent during response in case of a TCP connection',
    'counter',
  );
  readonly onDemandDns = family(
    'istio_on_demand_dns',
    'The total number of requests that used on-demand DNS (unstable)',
    'counter',
  );
  readonly activeProxies = family(
    'workload_manager_active_proxy_count',
    'The total number current workloads with active proxies (unstable)',
    'gauge',
  );
  readonly pendingProxies = family(
    'workload_manager_pending_proxy_count',
    'The total number current workloads with pending proxies (unstable)',
    'gauge',
  );
  readonly proxiesStarted = family(
    'workload_manager_proxies_started',
    'The total number of proxies that were started (unstable)',
    'counter',
  );
  readonly proxiesStopped = family(
    'workload_manager_proxies_stopped',
    'The total number of proxies that were stopped (unstable)',
    'counter',
  );

  constructor() {
    // src/metrics/meta.rs: set once at start.
    this.build.series.set(`component="ztunnel",tag="${BUILD_INFO.istioVersion}"`, 1);
    for (const f of [this.activeProxies, this.pendingProxies, this.proxiesStarted, this.proxiesStopped])
      f.series.set('', 0);
  }

  add(f: Family, labels: string, by: number): void {
    f.series.set(labels, (f.series.get(labels) ?? 0) + by);
  }

  render(): string {
    let out = '';
    for (const f of [
      this.build,
      this.opened,
      this.closed,
      this.received,
      this.sent,
      this.onDemandDns,
      this.activeProxies,
      this.pendingProxies,
      this.proxiesStarted,
      this.proxiesStopped,
    ]) {
      out += `# HELP ${f.name} ${f.help}.\n# TYPE ${f.name} ${f.type}\n`;
      const sample = f.type === 'counter' ? `${f.name}_total` : f.name;
      for (const [labels, v] of f.series) out += `${sample}${labels ? `{${labels}}` : ''} ${v}\n`;
    }
    return `${out}# EOF\n`;
  }
}

/** A workload's labels as metrics read them (src/proxy/metrics.rs with_source / with_destination). */
interface PeerLabels {
  workload: string;
  canonicalService: string;
  canonicalRevision: string;
  namespace: string;
  identity: string;
}

/**
 * src/proxy/metrics.rs CommonTrafficLabels in declaration order; absent values are "unknown"
 * (src/metrics.rs DefaultedUnknown). The source principal is only the mTLS peer identity
 * (with_derived_source); the destination principal is the destination workload's identity. The four
 * locality labels follow whenever a source or destination was set (OptionallyEncode), always the
 * case for a pod's ztunnel; kind nodes carry no topology labels, so they are "unknown".
 */
function trafficLabels(l: {
  reporter: 'source' | 'destination';
  source?: PeerLabels | undefined;
  sourcePrincipal?: string | undefined;
  destination?: PeerLabels | undefined;
  mtls: boolean;
  flags: '-' | 'DENY' | 'CONNECT';
}): string {
  const u = (v: string | undefined) => (v ? v : 'unknown');
  const s = l.source;
  const d = l.destination;
  const pairs: [string, string][] = [
    ['reporter', l.reporter],
    ['source_workload', u(s?.workload)],
    ['source_canonical_service', u(s?.canonicalService)],
    ['source_canonical_revision', u(s?.canonicalRevision)],
    ['source_workload_namespace', u(s?.namespace)],
    ['source_principal', u(l.sourcePrincipal)],
    ['source_app', u(s?.canonicalService)],
    ['source_version', u(s?.canonicalRevision)],
    ['source_cluster', s ? CLUSTER_ID : 'unknown'],
    ['destination_service', 'unknown'],
    ['destination_service_namespace', 'unknown'],
    ['destination_service_name', 'unknown'],
    ['destination_workload', u(d?.workload)],
    ['destination_canonical_service', u(d?.canonicalService)],
    ['destination_canonical_revision', u(d?.canonicalRevision)],
    ['destination_workload_namespace', u(d?.namespace)],
    ['destination_principal', u(d?.identity)],
    ['destination_app', u(d?.canonicalService)],
    ['destination_version', u(d?.canonicalRevision)],
    ['destination_cluster', d ? CLUSTER_ID : 'unknown'],
    ['request_protocol', 'tcp'],
    ['response_flags', l.flags],
    ['connection_security_policy', l.mtls ? 'mutual_tls' : 'unknown'],
  ];
  if (s || d || l.sourcePrincipal)
    pairs.push(
      ['source_region', 'unknown'],
      ['source_zone', 'unknown'],
      ['destination_region', 'unknown'],
      ['destination_zone', 'unknown'],
    );
  return pairs.map(([k, v]) => `${k}="${v}"`).join(',');
}

// ---------------------------------------------------------------------------------------------------------
// Log lines (zt@1.28.3 src/telemetry.rs IstioFormat / IstioJsonFormat)
// ---------------------------------------------------------------------------------------------------------

/** A field value: `display` is written as it is (tracing's `%`), strings quoted, numbers bare. */
type LogValue = string | number | { display: string };

interface LogLine {
  time: Date;
  level: 'info' | 'warn' | 'error';
  /** The event's target, e.g. "access", "ztunnel::inpod::statemanager". */
  target: string;
  message: string;
  fields: [string, LogValue | undefined][];
}

/** Rust's `<str as Debug>`: quoted, with \\ " \n \r \t \0 and other controls escaped. */
function rustDebugStr(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\0') out += '\\0';
    else if (c < 0x20 || c === 0x7f) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** tracing-subscriber's SystemTime: RFC 3339 with microseconds (the twin clock has milliseconds). */
const micros = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * One line as ztunnel writes it. Text: "<time>\t<level>\t<target minus "ztunnel::">\t<message>\t"
 * then space-separated k=v with Debug formatting. JSON (LOG_FORMAT=json): level, time, scope (the
 * full target), message, then the fields. Fields whose value is absent (a None) are left out.
 */
function formatLogLine(line: LogLine, json: boolean): string {
  const fields = line.fields.filter((f): f is [string, LogValue] => f[1] !== undefined);
  if (json) {
    const o: J = { level: line.level, time: micros(line.time), scope: line.target, message: line.message };
    for (const [k, v] of fields) o[k] = typeof v === 'object' ? v.display : v;
    return `${JSON.stringify(o)}\n`;
  }
  const target = line.target.startsWith('ztunnel::') ? line.target.slice('ztunnel::'.length) : line.target;
  const kv = fields
    .map(
      ([k, v]) => `${k}=${typeof v === 'object' ? v.display : typeof v === 'number' ? v : rustDebugStr(v)}`,
    )
    .join(' ');
  return `${micros(line.time)}\t${line.level}\t${target}\t${line.message}\t${kv}\n`;
}

/** Rust's SocketAddr Display: v6 in brackets. */
const sockAddr = (ip: string, port: number) => (net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`);

// ---------------------------------------------------------------------------------------------------------
// What ztunnel saw of one connection
// ---------------------------------------------------------------------------------------------------------

/**
 * How the ztunnels took part in a connection the twin's dataplane decided:
 * - complete: proxied and closed normally;
 * - denied: the destination ztunnel's assert_rbac refused it (HBONE: 401 to the source ztunnel);
 *   `reason` is zt@1.28.3 src/proxy.rs AuthorizationRejectionError's text;
 * - app-refused: the destination ztunnel could not connect to the app (HBONE: 503);
 * - connect-timeout: the source ztunnel's upstream connect timed out (10 s, src/proxy.rs freebind_connect);
 * - upstream-refused: the source ztunnel's passthrough connect was refused;
 * - untouched: no ztunnel proxied it (plaintext dropped or refused before reaching one).
 */
export type ZtunnelOutcome =
  | { kind: 'complete' }
  | { kind: 'denied'; reason: string }
  | { kind: 'app-refused' }
  | { kind: 'connect-timeout' }
  | { kind: 'upstream-refused' }
  | { kind: 'untouched' };

/**
 * Reads a ConnectionRecord as ztunnel would have lived it. The Decision carries the outcome and
 * whether it went over HBONE; which ztunnel step failed for a reset is only in `decision.why`,
 * whose authorization reason is ztunnelAuthorize's text (dataplane.ts: "explicitly denied by: ns/name"
 * or "allow policies exist, but none allowed", upstream's AuthorizationRejectionError Display).
 * ztunnel.test.ts holds this reading against decide() for every case, so a change of wording in
 * dataplane.ts fails there.
 */
export function ztunnelOutcome(r: ConnectionRecord): ZtunnelOutcome {
  const srcZ = r.src.pod?.enrolled === true;
  const dstZ = r.dst.pod?.enrolled === true;
  const d = r.decision;
  if (!srcZ && !dstZ) return { kind: 'untouched' };
  switch (d.outcome) {
    case 'connected':
      return { kind: 'complete' };
    case 'refused':
      return { kind: 'untouched' };
    case 'timeout':
      // An enrolled client's connect is always accepted by its ztunnel, which then times out.
      return srcZ ? { kind: 'connect-timeout' } : { kind: 'untouched' };
    case 'reset': {
      const denial = /(explicitly denied by: \S+|allow policies exist, but none allowed)/.exec(d.why);
      if (denial?.[1]) return { kind: 'denied', reason: denial[1] };
      // Plaintext to an enrolled pod's 15008 meets ztunnel's TLS listener: not modelled (dataplane.ts).
      if (!srcZ && r.dst.port === HBONE_PORT) return { kind: 'untouched' };
      if (dstZ) return { kind: 'app-refused' };
      return { kind: 'upstream-refused' };
    }
  }
}

/** zt@1.28.3 src/proxy.rs Error texts (thiserror Display), as the access log's `error` shows them. */
const ERRORS = {
  /** pool.rs maps a timed-out HBONE connect to MaybeHBONENetworkPolicyError; tokio's Elapsed says "deadline has elapsed". */
  hboneTimeout:
    'connection timed out, maybe a NetworkPolicy is blocking HBONE port 15008: deadline has elapsed',
  /** outbound.rs proxy_to_tcp: the io::Error of freebind_connect, via Error::Io. */
  tcpTimeout: 'io error: deadline has elapsed',
  tcpRefused: 'io error: Connection refused (os error 111)',
  /** inbound.rs / inbound_passthrough.rs: Error::ConnectionFailed around the app connect's io::Error. */
  appRefused: 'connection failed: Connection refused (os error 111)',
  /** h2/client.rs: a non-200 CONNECT response is Error::HttpStatus (http::StatusCode Display). */
  http401: 'http status: 401 Unauthorized',
  http503: 'http status: 503 Service Unavailable',
  policy: (reason: string) => `connection closed due to policy rejection: ${reason}`,
};

/** The source ztunnel's result (outbound.rs): its error, or undefined when it completed. */
function outboundError(o: ZtunnelOutcome, hbone: boolean): string | undefined {
  switch (o.kind) {
    case 'denied':
      return ERRORS.http401;
    case 'app-refused':
      return hbone ? ERRORS.http503 : ERRORS.tcpRefused;
    case 'connect-timeout':
      return hbone ? ERRORS.hboneTimeout : ERRORS.tcpTimeout;
    case 'upstream-refused':
      return ERRORS.tcpRefused;
    default:
      return undefined;
  }
}

/**
 * The destination ztunnel's result, when the connection reached it: inbound.rs records a denial
 * with AuthorizationPolicyDenied (DENY) and a failed app connect with ConnectionFailure (CONNECT);
 * inbound_passthrough.rs flags only the denial.
 */
function inboundResult(
  o: ZtunnelOutcome,
  hbone: boolean,
): { error: string | undefined; flags: '-' | 'DENY' | 'CONNECT' } | undefined {
  switch (o.kind) {
    case 'complete':
      return { error: undefined, flags: '-' };
    case 'denied':
      return { error: ERRORS.policy(o.reason), flags: 'DENY' };
    case 'app-refused':
      return { error: ERRORS.appRefused, flags: hbone ? 'CONNECT' : '-' };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The ztunnel pods
// ---------------------------------------------------------------------------------------------------------

interface ProxiedPod {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
}

/** A connection ztunnel still tracks (src/proxy/connection_manager.rs), while start <= now < until. */
interface TrackedConnection {
  until: Date;
  start: Date;
  podUid: string;
  direction: 'inbound' | 'outbound';
  dump: J;
}

/** One ztunnel process: created when its pod first serves, gone with the pod. */
interface ZtunnelState {
  namespace: string;
  name: string;
  node: string;
  json: boolean;
  registry: Registry;
  /** workloadState: the pods istio-cni handed over (src/inpod/admin.rs), by pod UID. */
  proxied: Map<string, ProxiedPod>;
  certs: Map<string, IssuedCert>;
  connections: TrackedConnection[];
}

const POD = { group: '', resource: 'pods' };
const PEER_AUTHN = { group: 'security.istio.io', resource: 'peerauthentications' };
const AUTHZ = { group: 'security.istio.io', resource: 'authorizationpolicies' };

/** Attaches the twin's ztunnel to a store and a connection log. See the module comment. */
export function attachZtunnel(opts: ZtunnelOptions): ZtunnelTwin {
  const { store, traffic } = opts;
  const clock = opts.clock ?? (() => new Date());
  const istioNs = opts.istioNamespace ?? 'istio-system';
  const states = new Map<string, ZtunnelState>();
  let ca: MeshCa | undefined;

  const isZtunnelPod = (p: { metadata: { namespace?: string; labels?: Record<string, string> } }) =>
    p.metadata.namespace === istioNs && p.metadata.labels?.[ZTUNNEL_LABEL.key] === ZTUNNEL_LABEL.value;
  const serving = (p: PodObject) => p.status?.phase === 'Running' && isReady(p);
  const listOrEmpty = <T extends object>(ref: { group: string; resource: string }): T[] => {
    // The Istio CRDs exist only once the base chart installed them.
    if (!store.registry.lookup(ref)) return [];
    return store.list<T>(ref);
  };

  /** The ztunnel a node's traffic and istio-cni go to: the newest serving, not terminating one (live.ts pickZtunnels). */
  function ztunnelFor(node: string): ZtunnelState | undefined {
    const pods = store
      .list<PodObject>(POD, { namespace: istioNs })
      .filter((p) => isZtunnelPod(p) && p.spec?.nodeName === node && serving(p))
      .filter((p) => !p.metadata.deletionTimestamp)
      .sort((a, b) => creation(b) - creation(a));
    const p = pods[0];
    return p ? states.get(p.metadata.uid ?? '') : undefined;
  }

  function log(st: ZtunnelState, line: LogLine): void {
    store.appendPodLog(
      { namespace: st.namespace, name: st.name },
      ZTUNNEL_CONTAINER,
      formatLogLine(line, st.json),
      line.time,
    );
  }

  // ---- enrollment: istio-cni hands each enrolled pod of the node to the node's ztunnel (src/inpod) ----

  function reconcile(): void {
    const pods = store.list<PodObject>(POD);
    const live = new Set<string>();
    for (const p of pods) {
      if (!isZtunnelPod(p)) continue;
      const uid = p.metadata.uid ?? '';
      live.add(uid);
      if (states.has(uid) || !serving(p)) continue;
      const env = p.spec?.containers?.find((c) => c.name === ZTUNNEL_CONTAINER) as
        { env?: { name: string; value?: string }[] } | undefined;
      const st: ZtunnelState = {
        namespace: p.metadata.namespace ?? istioNs,
        name: p.metadata.name,
        node: p.spec?.nodeName ?? '',
        json: env?.env?.some((e) => e.name === 'LOG_FORMAT' && e.value === 'json') ?? false,
        registry: new Registry(),
        proxied: new Map(),
        certs: new Map(),
        connections: [],
      };
      states.set(uid, st);
      // src/main.rs, the first line a ztunnel writes.
      const b = BUILD_INFO;
      log(st, {
        time: clock(),
        level: 'info',
        target: 'ztunnel',
        message: `version: version.BuildInfo{Version:"${b.version}", GitRevision:"${b.gitRevision}", RustVersion:"${b.rustVersion}", BuildProfile:"${b.buildProfile}", BuildStatus:"${b.buildStatus}", IstioVersion:"${b.istioVersion}", CryptoProvider:"${b.cryptoProvider}"}`,
        fields: [],
      });
      syncProxies(st, pods, true);
    }
    for (const uid of [...states.keys()]) if (!live.has(uid)) states.delete(uid);
    const nodes = new Set([...states.values()].map((s) => s.node));
    for (const node of nodes) {
      const st = ztunnelFor(node);
      if (st) syncProxies(st, pods, false);
    }
  }

  /**
   * zt@1.28.3 src/inpod/statemanager.rs process_msg: AddWorkload ("pod received, starting proxy"),
   * DelWorkload ("pod delete request, shutting down proxy"), and on a new connection the snapshot
   * followed by "received snapshot sent". A pod is handed over when istio-cni annotated it enabled.
   */
  function syncProxies(st: ZtunnelState, pods: PodObject[], snapshot: boolean): void {
    const want = pods.filter(
      (p) => p.spec?.nodeName === st.node && isEnrolled(p) && !isTerminal(p) && !isZtunnelPod(p),
    );
    const target = 'ztunnel::inpod::statemanager';
    const wantUids = new Set(want.map((p) => p.metadata.uid ?? ''));
    for (const p of want) {
      const uid = p.metadata.uid ?? '';
      if (st.proxied.has(uid)) continue;
      const info = {
        uid,
        name: p.metadata.name,
        namespace: p.metadata.namespace ?? '',
        serviceAccount: p.spec?.serviceAccountName || 'default',
      };
      log(st, {
        time: clock(),
        level: 'info',
        target,
        message: 'pod received, starting proxy',
        fields: [
          ['uid', uid],
          ['name', info.name],
          ['namespace', info.namespace],
        ],
      });
      st.proxied.set(uid, info);
      st.registry.add(st.registry.proxiesStarted, '', 1);
    }
    for (const uid of [...st.proxied.keys()]) {
      if (wantUids.has(uid)) continue;
      log(st, {
        time: clock(),
        level: 'info',
        target,
        message: 'pod delete request, shutting down proxy',
        fields: [['uid', uid]],
      });
      st.proxied.delete(uid);
      st.registry.add(st.registry.proxiesStopped, '', 1);
    }
    st.registry.activeProxies.series.set('', st.proxied.size);
    if (snapshot)
      log(st, { time: clock(), level: 'info', target, message: 'received snapshot sent', fields: [] });
  }

  // ---- connections ----

  /** The workload labels of a connection's endpoint, from the pod as the store has it now, else from the record. */
  function peerOf(e: Endpoint): PeerLabels | undefined {
    const ep = e.pod;
    if (!ep) return undefined;
    const pod = store.get<PodObject>(POD, { namespace: ep.namespace, name: ep.name });
    const p = pod && pod.metadata.uid === ep.uid ? pod : undefined;
    const workload = p ? workloadNameOf(p) : ep.name;
    const [canonicalService, canonicalRevision] = canonicalServiceOf(p?.metadata.labels ?? {}, workload);
    return {
      workload,
      canonicalService,
      canonicalRevision,
      namespace: ep.namespace,
      identity: `spiffe://${TRUST_DOMAIN}/ns/${ep.namespace}/sa/${ep.serviceAccount || 'default'}`,
    };
  }

  /**
   * One connection of the twin's curl, as the ztunnels on its way record it: the destination's
   * (inbound.rs over HBONE, inbound_passthrough.rs for plaintext into an enrolled pod) when the
   * connection reached it, and the source's (outbound.rs) when the client is enrolled.
   */
  function onRecord(r: ConnectionRecord): void {
    const o = ztunnelOutcome(r);
    if (o.kind === 'untouched') return;
    const hbone = r.decision.hbone;
    const ok = o.kind === 'complete';
    // A ztunnel that times out gives up after CONNECTION_TIMEOUT, whatever curl did meanwhile.
    const end =
      o.kind === 'connect-timeout'
        ? new Date(r.start.getTime() + ZTUNNEL_CONNECT_TIMEOUT_SECONDS * 1000)
        : r.end;
    const source = peerOf(r.src);
    const destination = peerOf(r.dst);
    // The mTLS identity of the source: its certificate's SAN, over HBONE only.
    const srcIdentity = hbone ? (r.decision.sourceIdentity ?? source?.identity) : undefined;
    const conn: Connection = {
      time: end,
      src: { display: sockAddr(r.src.ip, r.src.port) },
      srcWorkload: r.src.pod?.name,
      srcNamespace: source?.namespace,
      srcIdentity,
      // HBONE: dst.addr is <podIP>:15008 and dst.hbone_addr the address dialled (outbound.rs
      // build_request; inbound.rs reports the original destination the same way).
      dst: { display: sockAddr(r.dst.ip, hbone ? HBONE_PORT : r.dst.port) },
      hboneAddr: hbone ? { display: sockAddr(r.dst.ip, r.dst.port) } : undefined,
      dstWorkload: r.dst.pod?.name,
      dstNamespace: destination?.namespace,
      dstIdentity: hbone ? destination?.identity : undefined,
      toServer: ok ? r.bytesSent : 0,
      toClient: ok ? r.bytesReceived : 0,
      duration: `${Math.max(0, end.getTime() - r.start.getTime())}ms`,
    };
    const labels = { source, destination, mtls: hbone, sourcePrincipal: srcIdentity };
    const lines: { st: ZtunnelState; line: LogLine }[] = [];

    const inbound = inboundResult(o, hbone);
    const dstZ = r.dst.pod?.enrolled && inbound ? ztunnelFor(r.dst.pod.node) : undefined;
    if (dstZ && inbound) {
      count(dstZ, { ...labels, reporter: 'destination' }, inbound.flags, conn);
      // The HBONE connection's own source port is not known to the twin; the client's is used.
      lines.push({ st: dstZ, line: accessLine(conn, 'inbound', inbound.error) });
      track(dstZ, r, end, 'inbound', {
        src: conn.src.display,
        originalDst: null,
        actualDst: sockAddr(r.dst.ip, r.dst.port),
        protocol: hbone ? 'HBONE' : 'TCP',
      });
    }

    const srcZ = r.src.pod?.enrolled ? ztunnelFor(r.src.pod.node) : undefined;
    if (srcZ) {
      // outbound.rs records without a response flag.
      count(srcZ, { ...labels, reporter: 'source' }, '-', conn);
      const line = accessLine(conn, 'outbound', outboundError(o, hbone));
      // A denial or a failed app connect is logged by the destination before the source sees the
      // status; a completed connection closes at the source first.
      if (ok) lines.unshift({ st: srcZ, line });
      else lines.push({ st: srcZ, line });
      track(srcZ, r, end, 'outbound', {
        src: conn.src.display,
        originalDst: sockAddr(r.dst.ip, r.dst.port),
        actualDst: conn.dst.display,
        protocol: hbone ? 'HBONE' : 'TCP',
      });
    }
    for (const { st, line } of lines) log(st, line);
  }

  /**
   * src/proxy/metrics.rs ConnectionResult: opened (and the byte counters, created with the labels
   * at open, so response_flags "-") when the connection starts, closed with the final flag.
   */
  function count(
    st: ZtunnelState,
    l: Omit<Parameters<typeof trafficLabels>[0], 'flags'>,
    flags: '-' | 'DENY' | 'CONNECT',
    conn: Connection,
  ): void {
    const reg = st.registry;
    const open = trafficLabels({ ...l, flags: '-' });
    reg.add(reg.opened, open, 1);
    // copy.rs: "received" is what the client sent, "sent" what it got back, for both reporters.
    reg.add(reg.received, open, conn.toServer);
    reg.add(reg.sent, open, conn.toClient);
    reg.add(reg.closed, trafficLabels({ ...l, flags }), 1);
  }

  function track(
    st: ZtunnelState,
    r: ConnectionRecord,
    until: Date,
    direction: 'inbound' | 'outbound',
    dump: J,
  ) {
    const pod = direction === 'inbound' ? r.dst.pod : r.src.pod;
    if (!pod || until.getTime() <= r.start.getTime()) return;
    st.connections.push({ start: r.start, until, podUid: pod.uid, direction, dump });
  }

  // ---- the admin and stats servers ----

  function configDump(st: ZtunnelState): string {
    const now = clock();
    const pods = store.list<PodObject>(POD);
    const policies = meshPolicies(
      listOrEmpty<PeerAuthentication>(PEER_AUTHN),
      listOrEmpty<AuthorizationPolicy>(AUTHZ),
      istioNs,
    );
    const workloads = pods
      .map((p) => workloadOf(p, policies.keysFor))
      .filter((w): w is WorkloadInfo => w !== undefined)
      .sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));

    // cert_fetcher.rs should_prefetch_certificate: HBONE (or native tunnel) workloads of our node.
    const identities = new Set(
      workloads
        .filter((w) => w.node === st.node && (w.protocol === 'HBONE' || w.nativeTunnel))
        .map((w) => `spiffe://${TRUST_DOMAIN}/ns/${w.namespace}/sa/${w.serviceAccount}`),
    );
    const mesh = (ca ??= new MeshCa(now));
    for (const id of [...st.certs.keys()]) if (!identities.has(id)) st.certs.delete(id); // clear_cert
    const certificates = [...identities].sort().map((identity) => {
      let c = st.certs.get(identity);
      // tls/certificate.rs refresh_at: renewed at half its lifetime (and the twin clock may go back).
      const stale = (x: IssuedCert) =>
        now.getTime() >= (x.notBefore.getTime() + x.notAfter.getTime()) / 2 || now < x.notBefore;
      if (!c || stale(c)) st.certs.set(identity, (c = mesh.issue(identity, now)));
      // admin.rs dump_certs: the leaf and intermediates (none under istiod's own CA), then the roots.
      return { identity, state: 'Available', certChain: [dumpCert(c)], rootCerts: [dumpCert(mesh.root)] };
    });

    st.connections = st.connections.filter((c) => c.until.getTime() > now.getTime());
    const workloadState: J = {};
    for (const p of st.proxied.values()) {
      const live = st.connections.filter((c) => c.podUid === p.uid && c.start.getTime() <= now.getTime());
      workloadState[p.uid] = {
        state: 'Up',
        connections: {
          inbound: live.filter((c) => c.direction === 'inbound').map((c) => c.dump),
          outbound: live.filter((c) => c.direction === 'outbound').map((c) => c.dump),
        },
        info: { name: p.name, namespace: p.namespace, serviceAccount: p.serviceAccount },
      };
    }
    const dump = {
      workloads: workloads.map(dumpWorkload),
      services: [],
      policies: [...policies.all]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, p]) => dumpPolicy(p)),
      stagedServices: {},
      staticConfig: { workloads: [], policies: [], services: [] },
      version: BUILD_INFO,
      // The real object carries ztunnel's whole Config; cut down as the fixture is.
      config: { proxyMode: 'Shared' },
      certificates,
      workloadState,
    };
    // admin.rs handle_config_dump: a serde_json Map (sorted keys), to_string_pretty, no trailing newline.
    return JSON.stringify(sortKeys(dump), null, 2);
  }

  function admin(st: ZtunnelState, req: { method: string; path: string }): HttpReply {
    const path = req.path.split('?')[0] ?? '';
    // zt@1.28.3 src/admin.rs Service::spawn
    switch (path) {
      case '/config_dump':
        return { status: 200, headers: { 'content-type': 'application/json' }, body: configDump(st) };
      case '/':
      case '/logging':
      case '/quitquitquit':
      case '/debug/pprof/profile':
      case '/debug/pprof/heap':
        return {
          status: 501,
          headers: { 'content-type': 'text/plain' },
          body: `the twin does not model ztunnel's ${path}\n`,
        };
      default:
        return { status: 404, body: '' }; // hyper_util::empty_response
    }
  }

  function stats(st: ZtunnelState, req: { path: string; headers: Record<string, string> }): HttpReply {
    const path = req.path.split('?')[0] ?? '';
    // zt@1.28.3 src/metrics/server.rs: the same text for both paths; the content type follows Accept.
    if (path !== '/metrics' && path !== '/stats/prometheus') return { status: 404, body: '' };
    const accept = Object.entries(req.headers)
      .filter(([k]) => k.toLowerCase() === 'accept')
      .map(([, v]) => v);
    const om = accept.some((v) => v.toLowerCase().split(';')[0]?.trim() === 'application/openmetrics-text');
    return {
      status: 200,
      headers: {
        'content-type': om
          ? 'application/openmetrics-text;charset=utf-8;version=1.0.0'
          : 'text/plain; charset=utf-8',
      },
      body: st.registry.render(),
    };
  }

  const unwatch = store.watch(
    (e: StoreEvent) => {
      try {
        reconcile();
      } catch (err) {
        if (process.env.TWIN_DEBUG) console.error(`twin ztunnel after ${e.type}:`, err);
      }
    },
    { resource: POD },
  );
  const unlisten = traffic.onRecord(onRecord);
  reconcile();

  return {
    portForward(pod, port) {
      if (port !== ADMIN_PORT && port !== STATS_PORT) return undefined;
      const now = store.get<PodObject>(POD, {
        namespace: pod.metadata.namespace ?? '',
        name: pod.metadata.name ?? '',
      });
      if (!now || now.metadata.uid !== pod.metadata.uid || !isZtunnelPod(now) || !serving(now))
        return undefined;
      reconcile();
      const st = states.get(now.metadata.uid ?? '');
      if (!st) return undefined;
      return {
        http: (req) => (port === ADMIN_PORT ? admin(st, req) : stats(st, req)),
      };
    },
    stop() {
      unwatch();
      unlisten();
    },
  };
}

/** One connection as both ztunnels describe it (the fields of src/proxy/metrics.rs ConnectionResult). */
interface Connection {
  time: Date;
  src: { display: string };
  srcWorkload: string | undefined;
  srcNamespace: string | undefined;
  srcIdentity: string | undefined;
  dst: { display: string };
  hboneAddr: { display: string } | undefined;
  dstWorkload: string | undefined;
  dstNamespace: string | undefined;
  dstIdentity: string | undefined;
  /** Bytes from the client to the server, and back. */
  toServer: number;
  toClient: number;
  duration: string;
}

/**
 * zt@1.28.3 src/proxy/metrics.rs ConnectionResult::record_internal via access_log!: target
 * "access", "connection complete" at info, or at error with `error` last; identities only for mTLS;
 * bytes from the reporter's side ("Istio flips the metric for source ... Unflip for logs": the
 * source's bytes_sent is what the client sent, the destination's what went back to it).
 */
function accessLine(c: Connection, direction: 'inbound' | 'outbound', error: string | undefined): LogLine {
  const out = direction === 'outbound';
  return {
    time: c.time,
    level: error === undefined ? 'info' : 'error',
    target: 'access',
    message: 'connection complete',
    fields: [
      ['src.addr', c.src],
      ['src.workload', c.srcWorkload],
      ['src.namespace', c.srcNamespace],
      ['src.identity', c.srcIdentity],
      ['dst.addr', c.dst],
      ['dst.hbone_addr', c.hboneAddr],
      ['dst.workload', c.dstWorkload],
      ['dst.namespace', c.dstNamespace],
      ['dst.identity', c.dstIdentity],
      ['direction', direction],
      ['bytes_sent', out ? c.toServer : c.toClient],
      ['bytes_recv', out ? c.toClient : c.toServer],
      ['duration', c.duration],
      ['error', error],
    ],
  };
}

/** serde_json's Map without preserve_order is a BTreeMap: every object's keys sorted. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as J)[k])]),
    );
  return v;
}
