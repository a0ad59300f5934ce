import { Bitset } from './bitset.ts';
import { cidrContains } from './cidr.ts';
import { enrollment, SIDECAR_STATUS } from './enrollment.ts';
import { meshVerdict, type Enforcer } from './mesh.ts';
import { matchesSelector } from './selectors.ts';
import {
  HBONE_PORT,
  HOST_PROBE_SNAT_V4,
  HOST_PROBE_SNAT_V6,
  type Cell,
  type HostTraffic,
  type ClusterState,
  type NamespaceInfo,
  type NetworkPolicyPort,
  type NetworkPolicyRule,
  type PodInfo,
  type PodProbe,
} from './types.ts';

/**
 * The reachability model: for every (from pod, to pod, port) it predicts whether an application
 * request connects, is dropped by NetworkPolicy, or is refused by the mesh, and says why.
 *
 * NetworkPolicy (networking.k8s.io/v1): a pod is isolated for a direction when a policy of that
 * type selects it; policyTypes defaults to Ingress, plus Egress when the policy has egress rules.
 * Within a peer, podSelector and namespaceSelector are ANDed; peers, rules and policies are ORed.
 * An absent or empty peer list or port list means all. Named ports resolve against the
 * destination pod's container ports. ipBlock matches pod IPs (as kube-network-policies does).
 *
 * Ambient: traffic between two enrolled pods is tunnelled to the destination pod's TCP 15008
 * (HBONE) from the source pod's own IP, so NetworkPolicy judges port 15008 on both the source's
 * egress and the destination's ingress, and the app port does not matter; the ztunnel-to-app hop
 * stays inside the destination pod's network namespace. A flow with a non-enrolled end is
 * plaintext and judged at the app port. (istio.io "Ambient and Kubernetes NetworkPolicy";
 * ztunnel ARCHITECTURE.md "Ports".)
 */

interface CompiledRule {
  index: number;
  peers: Bitset;
  ports: NetworkPolicyPort[] | undefined;
  /** The rule's peers as written, for sources that are not pods (the node, host-network pods). */
  raw: NetworkPolicyRule;
}

interface CompiledPolicy {
  key: string;
  ingress?: CompiledRule[];
  egress?: CompiledRule[];
}

export interface ModelOptions {
  /** Namespaces istio-cni never enrolls (default kube-system). */
  excludedNamespaces?: string[];
  /**
   * Whether the CNI applies NetworkPolicy to connections from a node's own sockets to its pods
   * once istio-cni has SNATed them to 169.254.7.127 (default `judged`): `exempt` for kindnet, whose
   * kube-network-policies accepts every packet from a root-owned host socket (`meta skuid 0
   * accept`, kubernetes-sigs/kube-network-policies v0.8.0 pkg/networkpolicy/controller.go, the
   * version kind v0.30.0's kindnetd uses) and judges other host sockets by their address before
   * istio-cni's SNAT; `judged` for CNIs
   * that recognise the node by the source address, which the SNAT hides (Cilium, for example).
   */
  hostTraffic?: HostTraffic;
}

/** A pod's part in the mesh. */
export type MeshRole = 'ambient' | 'sidecar' | 'none';

/** A source that is not a pod of the matrix: the kubelet, or a host-network pod. */
export interface HostSource {
  /** `[kubelet]` or `[host] <ns>/<name>`: brackets and spaces cannot occur in a pod's reference. */
  key: string;
  kind: 'kubelet' | 'host-network';
  pod?: PodInfo;
}

/** How a connection travels from s to d, and who judges it at d. */
interface Transport {
  /** The port NetworkPolicy judges at both ends. */
  port: number;
  /** HBONE: to the destination's 15008. */
  hbone: boolean;
  /** The destination sees the source's mTLS identity (HBONE or a sidecar's mTLS). */
  identity: boolean;
  enforcer: Enforcer | undefined;
  /** For reasons: "TCP 15008 (HBONE: ...)", built on demand. */
  at: () => string;
}

export const KUBELET = '[kubelet]';
export const hostKey = (p: PodInfo) => `[host] ${p.namespace}/${p.name}`;
const TUNNEL_LABEL = 'networking.istio.io/tunnel';

export class ReachabilityModel {
  readonly pods: PodInfo[];
  readonly enrolled: boolean[];
  readonly enrollmentWhy: string[];
  private readonly index = new Map<string, number>();
  private readonly nsByName = new Map<string, NamespaceInfo>();
  private readonly policies: CompiledPolicy[] = [];
  /** Per pod, the policies that isolate it, by direction. */
  private readonly ingressOf: number[][];
  private readonly egressOf: number[][];
  private readonly state: ClusterState;
  private readonly ingressCache = new Map<number, Bitset>();
  /** Per pod: ambient (enrolled), sidecar (an injected Istio proxy), none. */
  readonly role: MeshRole[];
  /** Per pod: it declares networking.istio.io/tunnel=http (a native HBONE endpoint). */
  private readonly native: boolean[];
  /** Sources that are not pods: the kubelet (when a pod has network probes), host-network pods. */
  readonly hostSources: HostSource[];
  readonly hostTraffic: HostTraffic;

  constructor(state: ClusterState, opts: ModelOptions = {}) {
    this.state = state;
    this.hostTraffic = opts.hostTraffic ?? 'judged';
    for (const ns of state.namespaces) this.nsByName.set(ns.name, withNameLabel(ns));
    for (const p of state.pods)
      if (!this.nsByName.has(p.namespace))
        this.nsByName.set(p.namespace, withNameLabel({ name: p.namespace, labels: {} }));
    this.pods = state.pods.filter((p) => !p.hostNetwork);
    this.pods.forEach((p, i) => this.index.set(key(p), i));
    const enr = this.pods.map((p) => enrollment(p, this.nsByName.get(p.namespace), opts.excludedNamespaces));
    this.enrolled = enr.map((e) => e.enrolled);
    this.enrollmentWhy = enr.map((e) => e.why);
    this.role = this.pods.map((p, i) =>
      this.enrolled[i] ? 'ambient' : p.annotations?.[SIDECAR_STATUS] !== undefined ? 'sidecar' : 'none',
    );
    this.native = this.pods.map(tunnels);
    this.hostSources = [
      ...(this.pods.some((p) => p.probes?.length) ? [{ key: KUBELET, kind: 'kubelet' as const }] : []),
      ...state.pods
        .filter((p) => p.hostNetwork)
        .map((p) => ({ key: hostKey(p), kind: 'host-network' as const, pod: p })),
    ];
    const n = this.pods.length;
    this.ingressOf = Array.from({ length: n }, () => []);
    this.egressOf = Array.from({ length: n }, () => []);

    for (const np of state.networkPolicies) {
      const pi = this.policies.length;
      const types = np.policyTypes.length
        ? np.policyTypes
        : np.egress.length
          ? ['Ingress', 'Egress']
          : ['Ingress'];
      const compiled: CompiledPolicy = { key: `${np.namespace}/${np.name}` };
      if (types.includes('Ingress'))
        compiled.ingress = np.ingress.map((r, i) => this.compileRule(np.namespace, r, i));
      if (types.includes('Egress'))
        compiled.egress = np.egress.map((r, i) => this.compileRule(np.namespace, r, i));
      this.policies.push(compiled);
      this.pods.forEach((p, i) => {
        if (p.namespace !== np.namespace || !matchesSelector(np.podSelector, p.labels)) return;
        if (compiled.ingress) this.ingressOf[i]?.push(pi);
        if (compiled.egress) this.egressOf[i]?.push(pi);
      });
    }
  }

  private compileRule(policyNs: string, rule: NetworkPolicyRule, index: number): CompiledRule {
    const n = this.pods.length;
    const peers = rule.peers ?? [];
    if (!peers.length)
      return { index, peers: Bitset.full(n), ports: rule.ports?.length ? rule.ports : undefined, raw: rule };
    const set = new Bitset(n);
    for (const peer of peers) {
      this.pods.forEach((p, i) => {
        if (peer.ipBlock) {
          if (
            p.ip &&
            cidrContains(peer.ipBlock.cidr, p.ip) &&
            !(peer.ipBlock.except ?? []).some((c) => cidrContains(c, p.ip ?? ''))
          )
            set.add(i);
          return;
        }
        const nsOk = peer.namespaceSelector
          ? matchesSelector(peer.namespaceSelector, this.nsByName.get(p.namespace)?.labels ?? {})
          : p.namespace === policyNs;
        if (nsOk && (peer.podSelector === undefined || matchesSelector(peer.podSelector, p.labels)))
          set.add(i);
      });
    }
    return { index, peers: set, ports: rule.ports?.length ? rule.ports : undefined, raw: rule };
  }

  podIndex(ref: string): number | undefined {
    return this.index.get(ref);
  }

  /** Whether the destination's isolating ingress policies let s in on a port (cached per destination and port). */
  private ingressAllows(d: number, s: number, port: number): boolean {
    const k = d * 65536 + port;
    let set = this.ingressCache.get(k);
    if (!set) {
      set = new Bitset(this.pods.length);
      const owner = this.pods[d] as PodInfo;
      for (const pi of this.ingressOf[d] ?? [])
        for (const r of this.policies[pi]?.ingress ?? [])
          if (portMatches(r.ports, port, owner)) set.or(r.peers);
      this.ingressCache.set(k, set);
    }
    return set.has(s);
  }

  /** Whether the source's isolating egress policies let it reach d on a port (named ports resolve on d). */
  private egressAllows(s: number, d: number, port: number): boolean {
    const dst = this.pods[d] as PodInfo;
    for (const pi of this.egressOf[s] ?? [])
      for (const r of this.policies[pi]?.egress ?? [])
        if (r.peers.has(d) && portMatches(r.ports, port, dst)) return true;
    return false;
  }

  /** Fast path: allowed or not (no reason string). Sources past the pods are hostSources. */
  allowed(s: number, d: number, port: number): boolean {
    return this.outcome(s, d, port) === 'allow';
  }

  /**
   * How s reaches d by d's pod IP (istio/istio 1.28.3): between enrolled pods, HBONE to 15008; an
   * ambient client also tunnels to a pod that declares `networking.istio.io/tunnel: http` (istiod
   * marks it native-tunnel HBONE: pilot/pkg/serviceregistry/kube/controller/ambient/workloads.go
   * setTunnelProtocol), which the injector gives sidecars under the ambient profile
   * (ISTIO_META_ENABLE_HBONE, injection-template.yaml). A sidecar client sends plaintext to a pod
   * IP (its passthrough cluster; it uses Istio mTLS or HBONE only towards a Service's endpoints,
   * pilot/pkg/xds/endpoints/endpoint_builder.go). Everything else is plaintext on the app port.
   */
  private transport(s: number, d: number, port: number): Transport {
    // The fast path (outcome(), countAllowed()) needs no words: `at` is built only when asked for.
    const src = this.role[s];
    const dst = this.pods[d] as PodInfo;
    const dRole = this.role[d];
    const native = this.native[d] ?? false;
    const enforcer: Enforcer | undefined =
      dRole === 'ambient'
        ? 'ztunnel'
        : dRole === 'sidecar' && (native || sidecarCaptures(dst, port))
          ? 'sidecar'
          : undefined;
    const hbone = src === 'ambient' && (dRole === 'ambient' || native);
    return {
      port: hbone ? HBONE_PORT : port,
      hbone,
      identity: hbone,
      enforcer,
      at: () => this.transportWords(s, d, port, hbone),
    };
  }

  private transportWords(s: number, d: number, port: number, hbone: boolean): string {
    const dst = this.pods[d] as PodInfo;
    const from = key(this.pods[s] as PodInfo);
    const to = key(dst);
    const dRole = this.role[d];
    if (hbone)
      return `TCP ${HBONE_PORT} (HBONE: ${
        dRole === 'ambient'
          ? 'both ends enrolled'
          : `${to} is an HBONE endpoint (${TUNNEL_LABEL}: ${dst.labels[TUNNEL_LABEL] ?? ''})`
      }, app port ${port} not judged)`;
    const why =
      this.role[s] === 'ambient'
        ? dRole === 'sidecar'
          ? `${to} has a sidecar without ${TUNNEL_LABEL}=http, so ztunnel sends plaintext`
          : `${to} not enrolled`
        : this.role[s] === 'sidecar'
          ? // By pod IP a sidecar's Envoy matches no Service and sends through its PassthroughCluster
            // (ORIGINAL_DST, no TLS, no tunnel): plaintext, without the identity it would present
            // through a Service (istio/istio 1.28.3 pilot/pkg/networking/core/cluster_builder.go
            // buildDefaultPassthroughCluster; istio/istio#37431).
            `${from}'s sidecar sends to a pod IP through its passthrough cluster, without mTLS or HBONE (through a Service it would use them)`
          : `${from} not enrolled`;
    return `TCP ${port} (plaintext: ${why})`;
  }

  private netpolAllowed(s: number, d: number, port: number, j = this.transport(s, d, port)): boolean {
    if ((this.ingressOf[d]?.length ?? 0) > 0 && !this.ingressAllows(d, s, j.port)) return false;
    if ((this.egressOf[s]?.length ?? 0) > 0 && !this.egressAllows(s, d, j.port)) return false;
    return true;
  }

  private meshOutcome(
    s: MeshSourceRef,
    d: number,
    port: number,
    t: { identity: boolean; enforcer?: Enforcer },
  ) {
    const dst = this.pods[d] as PodInfo;
    if (!t.enforcer || (!this.state.authorizationPolicies?.length && !this.state.peerAuthentications?.length))
      return { outcome: 'allow' as const, reason: '' };
    return meshVerdict(
      { pod: s.pod, ip: s.ip, mtls: t.identity },
      dst,
      port,
      this.state.peerAuthentications ?? [],
      this.state.authorizationPolicies ?? [],
      this.state.istioNamespace ?? 'istio-system',
      t.enforcer,
    );
  }

  /** One cell with its outcome and the reason for it; s past the pods is a host source. */
  cell(s: number, d: number, port: number): Cell {
    if (s >= this.pods.length) return this.hostCell(s - this.pods.length, d, port);
    const src = this.pods[s] as PodInfo;
    const dst = this.pods[d] as PodInfo;
    const j = this.transport(s, d, port);
    const base = {
      from: key(src),
      to: key(dst),
      port,
      protocol: 'TCP' as const,
      judgedPort: j.port,
      hbone: j.hbone,
    };
    const at = j.at();
    const why: string[] = [];
    const ing = this.ingressOf[d] ?? [];
    if (ing.length) {
      if (!this.ingressAllows(d, s, j.port)) {
        return {
          ...base,
          allowed: false,
          outcome: 'drop',
          reason: `drop: ingress of ${base.to} is isolated by ${this.names(ing)} and no rule allows ${base.from} on ${at}`,
        };
      }
      why.push(`ingress allowed by ${this.matching('ingress', ing, s, j.port, dst)}`);
    } else why.push(`ingress of ${base.to} not isolated`);
    const eg = this.egressOf[s] ?? [];
    if (eg.length) {
      if (!this.egressAllows(s, d, j.port)) {
        return {
          ...base,
          allowed: false,
          outcome: 'drop',
          reason: `drop: egress of ${base.from} is isolated by ${this.names(eg)} and no rule allows ${base.to} on ${at}`,
        };
      }
      why.push(`egress allowed by ${this.matching('egress', eg, d, j.port, dst)}`);
    } else why.push(`egress of ${base.from} not isolated`);
    const mesh = this.meshOutcome({ pod: src, ip: src.ip }, d, port, j);
    if (mesh.outcome === 'deny') return { ...base, allowed: false, outcome: 'deny', reason: mesh.reason };
    return {
      ...base,
      allowed: true,
      outcome: 'allow',
      reason: `allow on ${at}: ${why.join('; ')}${mesh.reason ? `; ${mesh.reason}` : ''}`,
    };
  }

  /**
   * A connection from the node itself: the kubelet's probe of d (always from d's own node), or a
   * host-network pod. From the same node to an enrolled pod, istio-cni SNATs it to 169.254.7.127
   * and the pod lets it past ztunnel (istio/istio 1.28.3 cni/pkg/iptables/iptables.go: the host
   * rule on `--socket-exists` traffic to the istio-inpod-probes ipset, and the in-pod ACCEPT of
   * that source), so no mesh policy applies and NetworkPolicy sees that address; to a pod not
   * enrolled, Kubernetes allows traffic from the pod's own node whatever the policies (NetworkPolicy
   * docs: "traffic to and from the node where a Pod is running is always allowed"). From another
   * node, the source is that node's address, judged like any other, and an enrolled destination's
   * ztunnel sees plaintext.
   */
  private hostCell(h: number, d: number, port: number): Cell {
    const hs = this.hostSources[h] as HostSource;
    const dst = this.pods[d] as PodInfo;
    const base = {
      from: hs.key,
      to: key(dst),
      port,
      protocol: 'TCP' as const,
      judgedPort: port,
      hbone: false,
    };
    const v = this.hostVerdict(hs, d, port);
    return { ...base, allowed: v.outcome === 'allow', outcome: v.outcome, reason: v.reason };
  }

  private hostVerdict(hs: HostSource, d: number, port: number): { outcome: Cell['outcome']; reason: string } {
    const dst = this.pods[d] as PodInfo;
    const to = key(dst);
    const who =
      hs.kind === 'kubelet'
        ? `the kubelet on ${to}'s node${dst.nodeName ? ` ${dst.nodeName}` : ''}`
        : hs.key.slice(7);
    // The node: spec.nodeName, else the node's address (status.hostIP; a host-network pod's
    // status.podIP is it too), compared only like with like.
    const place = (p: PodInfo | undefined) => ({
      name: p?.nodeName,
      ip: p?.hostIP ?? (p?.hostNetwork ? p.ip : undefined),
    });
    const a = place(hs.kind === 'kubelet' ? dst : hs.pod);
    const b = place(dst);
    const srcNode = a.name ?? a.ip;
    const known =
      hs.kind === 'kubelet' ||
      (a.name !== undefined && b.name !== undefined) ||
      (a.ip !== undefined && b.ip !== undefined);
    const local =
      hs.kind === 'kubelet' ||
      (a.name !== undefined && b.name !== undefined
        ? a.name === b.name
        : a.ip !== undefined && a.ip === b.ip);
    const enrolled = this.enrolled[d] ?? false;
    const ing = this.ingressOf[d] ?? [];
    const probesHere = hs.kind === 'kubelet' ? (dst.probes ?? []).filter((p) => p.port === port) : [];
    const probe = describeProbes(probesHere);
    const what = `${who}${probe ? ` (${probe})` : ''}`;
    // The node's own address: the host-network pod's, or the destination's node's for the kubelet.
    const nodeIp = hs.kind === 'kubelet' ? dst.hostIP : (hs.pod?.ip ?? hs.pod?.hostIP);
    const nodeAddr = nodeIp ?? "the node's address (not in the manifests: status.hostIP)";
    if (!local) {
      // From another node (or nodes unknown): the node's own address, judged as any other.
      const where = known
        ? `from node ${srcNode ?? '?'}, not ${to}'s node ${b.name ?? b.ip ?? '?'}`
        : `from a node the manifests do not name (spec.nodeName missing), taken as another node`;
      const at = `TCP ${port} (plaintext ${where}, from ${nodeAddr})`;
      let admitted = `ingress of ${to} not isolated`;
      if (ing.length) {
        const hit = nodeIp === undefined ? undefined : this.hostRule(d, nodeIp, port);
        if (!hit)
          return {
            outcome: 'drop',
            reason: `drop: ingress of ${to} is isolated by ${this.names(ing)} and no ipBlock admits ${who} on ${at}`,
          };
        admitted = `ingress allowed by ${hit}`;
      }
      return this.hostMesh(d, port, nodeIp, `allow on ${at}: ${admitted}`, enrolled);
    }
    // Same node. istio-cni SNATs it to 169.254.7.127 when the destination is enrolled, after the
    // CNI's NetworkPolicy hook in the case of kindnet (kube-network-policies v0.8.0 filters in
    // POSTROUTING at srcnat-5, "before SNAT happens", pkg/networkpolicy/controller.go).
    const snat = dst.ip?.includes(':') ? HOST_PROBE_SNAT_V6 : HOST_PROBE_SNAT_V4;
    const at = enrolled
      ? `TCP ${port} from ${snat} (istio-cni SNATs connections from ${to}'s node to it, and the pod lets them past ztunnel, so no mesh policy applies)`
      : `TCP ${port} from ${to}'s own node (${to} is not enrolled, so istio-cni does not SNAT it)`;
    const root = hs.kind === 'kubelet' || hs.pod?.hostUser !== 'non-root';
    let admitted: string;
    if (!ing.length) admitted = `ingress of ${to} not isolated`;
    else if (this.hostTraffic === 'exempt' && root)
      admitted = `--host-traffic exempt: the CNI accepts connections from the node's root-owned sockets before NetworkPolicy (kindnet: kube-network-policies' "meta skuid 0 accept")${hs.pod?.hostUser === 'unset' ? `; ${who} sets no runAsUser and is taken to run as root` : ''}`;
    else if (this.hostTraffic === 'exempt') {
      // kindnet queues a non-root host socket's packets and judges them by their source before
      // istio-cni's SNAT: the node's address, enrolled destination or not.
      const judged = `--host-traffic exempt covers root-owned sockets only; ${who} runs as non-root, so the CNI judges it by the node's address ${nodeAddr}, before any SNAT`;
      const hit = nodeIp === undefined ? undefined : this.hostRule(d, nodeIp, port);
      if (!hit)
        return {
          outcome: 'drop',
          reason: `drop: ${what}: ${judged}, and ingress of ${to} is isolated by ${this.names(ing)} with no rule admitting it on TCP ${port}`,
        };
      admitted = `${judged}; ingress allowed by ${hit}`;
    } else if (!enrolled)
      admitted = `connects from ${to}'s own node, which Kubernetes NetworkPolicy always allows`;
    else {
      const judged = '--host-traffic judged: the CNI judges it by its source address';
      const hit = this.hostRule(d, snat, port);
      if (!hit)
        return {
          outcome: 'drop',
          reason: `drop: ${what}: ${judged}, and ingress of ${to} is isolated by ${this.names(ing)} with no rule admitting it on ${at}; add an ingress rule with ipBlock ${snat}${snat.includes(':') ? '/128' : '/32'} (istio.io "Ambient and Kubernetes NetworkPolicy")`,
        };
      admitted = `${judged}; ingress allowed by ${hit}`;
    }
    const prefix = `allow on ${at}: ${probe ? `${what}; ` : ''}${admitted}`;
    if (enrolled) return { outcome: 'allow', reason: prefix };
    const mesh = this.hostMesh(d, port, nodeIp, prefix, false);
    // A tcpSocket probe only opens and closes a connection, and a sidecar's Envoy accepts the
    // connection before STRICT or a policy can refuse what follows (istio.io "Health Checking of
    // Istio Services": TCP probes always succeed while the sidecar is running).
    if (
      mesh.outcome === 'deny' &&
      probesHere.length > 0 &&
      probesHere.every((p) => p.handler === 'tcpSocket') &&
      this.role[d] === 'sidecar'
    )
      return {
        outcome: 'allow',
        reason: `${prefix}; a tcpSocket probe only opens a connection, which ${to}'s sidecar Envoy accepts while it runs, whatever its policies (istio.io "Health Checking of Istio Services"); the mesh would refuse data: ${mesh.reason}`,
      };
    return mesh;
  }

  /** After NetworkPolicy let host traffic through: an enrolled pod's ztunnel or a sidecar that captures the port sees plaintext. */
  private hostMesh(
    d: number,
    port: number,
    ip: string | undefined,
    allowReason: string,
    enrolled: boolean,
  ): { outcome: Cell['outcome']; reason: string } {
    const dst = this.pods[d] as PodInfo;
    const enforcer: Enforcer | undefined = enrolled
      ? 'ztunnel'
      : this.role[d] === 'sidecar' && sidecarCaptures(dst, port)
        ? 'sidecar'
        : undefined;
    const mesh = this.meshOutcome({ pod: undefined, ip }, d, port, { identity: false, enforcer });
    if (mesh.outcome === 'deny') return mesh;
    return { outcome: 'allow', reason: `${allowReason}${mesh.reason ? `; ${mesh.reason}` : ''}` };
  }

  /** The first ingress rule of d's isolating policies that admits an address on a port (ipBlock or any-peer rules). */
  private hostRule(d: number, ip: string, port: number): string | undefined {
    const dst = this.pods[d] as PodInfo;
    for (const pi of this.ingressOf[d] ?? [])
      for (const r of this.policies[pi]?.ingress ?? []) {
        if (!portMatches(r.ports, port, dst)) continue;
        const peers = r.raw.peers ?? [];
        const admits =
          !peers.length ||
          peers.some(
            (p) =>
              p.ipBlock !== undefined &&
              cidrContains(p.ipBlock.cidr, ip) &&
              !(p.ipBlock.except ?? []).some((c) => cidrContains(c, ip)),
          );
        if (admits) return `${this.policies[pi]?.key ?? '?'} (ingress rule ${r.index})`;
      }
    return undefined;
  }

  private names(list: number[]): string {
    return list.map((i) => this.policies[i]?.key ?? '?').join(', ');
  }

  private matching(
    dir: 'ingress' | 'egress',
    list: number[],
    other: number,
    port: number,
    owner: PodInfo,
  ): string {
    for (const pi of list)
      for (const r of this.policies[pi]?.[dir] ?? [])
        if (r.peers.has(other) && portMatches(r.ports, port, owner))
          return `${this.policies[pi]?.key ?? '?'} (${dir} rule ${r.index})`;
    return '?';
  }

  /** Ports to evaluate for a destination: the given ones, else its container ports (TCP). */
  portsOf(d: number, ports?: number[]): number[] {
    const pod = this.pods[d];
    return pod ? destinationPorts(pod, ports) : [];
  }

  /** Every source: the pods, then the host sources. */
  get sourceCount(): number {
    return this.pods.length + this.hostSources.length;
  }

  /** A source's name in cells and tables. */
  sourceKey(s: number): string {
    const p = this.pods[s];
    return p ? key(p) : (this.hostSources[s - this.pods.length]?.key ?? '?');
  }

  /**
   * The ports of d that source s has cells for: none for s = d; the kubelet's only the ports it
   * probes; everyone else d's ports (the given ones, else its TCP container ports).
   */
  cellPorts(s: number, d: number, ports?: number[]): number[] {
    if (s === d) return [];
    const hs = s >= this.pods.length ? this.hostSources[s - this.pods.length] : undefined;
    if (hs?.kind === 'kubelet') return probePorts(this.pods[d] as PodInfo, ports);
    return this.portsOf(d, ports);
  }

  /** Every (from, to, port) cell, from != to. */
  matrix(ports?: number[]): Cell[] {
    return [...this.cells(ports)];
  }

  /** The cells of matrix(), one at a time and in the same order, so that large matrices stream. */
  *cells(ports?: number[]): Generator<Cell> {
    for (let s = 0; s < this.sourceCount; s++)
      for (let d = 0; d < this.pods.length; d++)
        for (const port of this.cellPorts(s, d, ports)) yield this.cell(s, d, port);
  }

  /** How many cells matrix() would have, computed without evaluating any. */
  cellCount(ports?: number[]): number {
    return countCells(this.state.pods, ports);
  }

  /** One cell's outcome without its reason (tables of large clusters). */
  outcome(s: number, d: number, port: number): Cell['outcome'] {
    if (s >= this.pods.length)
      return this.hostVerdict(this.hostSources[s - this.pods.length] as HostSource, d, port).outcome;
    const j = this.transport(s, d, port);
    if (!this.netpolAllowed(s, d, port, j)) return 'drop';
    const src = this.pods[s] as PodInfo;
    return this.meshOutcome({ pod: src, ip: src.ip }, d, port, j).outcome;
  }

  /** Counts allowed cells without building reasons (benchmarks, large clusters). */
  countAllowed(ports?: number[]): { cells: number; allowed: number } {
    let cells = 0;
    let allowed = 0;
    for (let s = 0; s < this.sourceCount; s++)
      for (let d = 0; d < this.pods.length; d++)
        for (const port of this.cellPorts(s, d, ports)) {
          cells++;
          if (this.allowed(s, d, port)) allowed++;
        }
    return { cells, allowed };
  }
}

interface MeshSourceRef {
  pod: PodInfo | undefined;
  ip: string | undefined;
}

/**
 * Whether a sidecar's iptables sends inbound TCP on this port to Envoy: every port but the HBONE
 * port 15008, Envoy's 15090 and 15021, the status port 15020, and the pod's
 * `traffic.sidecar.istio.io/excludeInboundPorts` (istio/istio 1.28.3
 * tools/istio-iptables/pkg/capture/run.go, injection-template.yaml).
 */
function sidecarCaptures(p: PodInfo, port: number): boolean {
  const excluded = (p.annotations?.['traffic.sidecar.istio.io/excludeInboundPorts'] ?? '')
    .split(',')
    .map((x) => Number(x.trim()));
  return ![15008, 15090, 15021, 15020, ...excluded].includes(port);
}

/** A pod that declares it takes HBONE itself (networking.istio.io/tunnel lists "http"). */
function tunnels(p: PodInfo): boolean {
  return (p.labels[TUNNEL_LABEL] ?? '').split(',').includes('http');
}

/**
 * Probes for a reason, grouped: "readiness httpGet probe of container app", or for many,
 * "3 probes (liveness httpGet, readiness tcpSocket) of containers a, b, c".
 */
function describeProbes(list: PodProbe[]): string {
  if (!list.length) return '';
  if (list.length <= 3)
    return list.map((p) => `${p.probe} ${p.handler} probe of container ${p.container}`).join(', ');
  const kinds = [...new Set(list.map((p) => `${p.probe} ${p.handler}`))];
  const containers = [...new Set(list.map((p) => p.container))];
  const names =
    containers.length > 4
      ? `${containers.slice(0, 3).join(', ')} and ${containers.length - 3} more`
      : containers.join(', ');
  return `${list.length} probes (${kinds.join(', ')}) of container${containers.length > 1 ? 's' : ''} ${names}`;
}

/** The TCP ports the kubelet probes on a pod (only the given ones, if any). */
function probePorts(pod: PodInfo, ports?: number[]): number[] {
  const probed = [...new Set((pod.probes ?? []).map((p) => p.port))].sort((a, b) => a - b);
  return ports?.length ? probed.filter((p) => ports.includes(p)) : probed;
}

/** Ports to evaluate for a destination pod: the given ones, else its TCP container ports. */
export function destinationPorts(pod: PodInfo, ports?: number[]): number[] {
  if (ports?.length) return ports;
  return [
    ...new Set(pod.ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort)),
  ].sort((a, b) => a - b);
}

/**
 * How many cells a model of these pods would evaluate, without building the model, so that a
 * matrix too large to answer is refused at once: every source but itself × each destination's
 * ports, where host-network pods are sources only and the kubelet has cells for probed ports only.
 */
export function countCells(pods: PodInfo[], ports?: number[]): number {
  const placed = pods.filter((p) => !p.hostNetwork);
  const hosts = pods.length - placed.length;
  let total = 0;
  for (const d of placed)
    total += (placed.length - 1 + hosts) * destinationPorts(d, ports).length + probePorts(d, ports).length;
  return total;
}

function key(p: PodInfo): string {
  return `${p.namespace}/${p.name}`;
}

function withNameLabel(ns: NamespaceInfo): NamespaceInfo {
  // The API server sets kubernetes.io/metadata.name on every namespace.
  return { ...ns, labels: { 'kubernetes.io/metadata.name': ns.name, ...ns.labels } };
}

function portMatches(ports: NetworkPolicyPort[] | undefined, port: number, dst: PodInfo): boolean {
  if (!ports) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number')
      return p.endPort !== undefined ? port >= p.port && port <= p.endPort : port === p.port;
    const named = dst.ports.find((c) => c.name === p.port && (c.protocol ?? 'TCP') === 'TCP');
    return named !== undefined && named.containerPort === port;
  });
}
