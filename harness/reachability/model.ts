import { Bitset } from './bitset.ts';
import { cidrContains } from './cidr.ts';
import { enrollment } from './enrollment.ts';
import { meshVerdict } from './mesh.ts';
import { matchesSelector } from './selectors.ts';
import {
  HBONE_PORT,
  type Cell,
  type ClusterState,
  type NamespaceInfo,
  type NetworkPolicyPort,
  type NetworkPolicyRule,
  type PodInfo,
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
}

interface CompiledPolicy {
  key: string;
  ingress?: CompiledRule[];
  egress?: CompiledRule[];
}

export interface ModelOptions {
  /** Namespaces istio-cni never enrolls (default kube-system). */
  excludedNamespaces?: string[];
}

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

  constructor(state: ClusterState, opts: ModelOptions = {}) {
    this.state = state;
    for (const ns of state.namespaces) this.nsByName.set(ns.name, withNameLabel(ns));
    for (const p of state.pods)
      if (!this.nsByName.has(p.namespace))
        this.nsByName.set(p.namespace, withNameLabel({ name: p.namespace, labels: {} }));
    this.pods = state.pods.filter((p) => !p.hostNetwork);
    this.pods.forEach((p, i) => this.index.set(key(p), i));
    const enr = this.pods.map((p) => enrollment(p, this.nsByName.get(p.namespace), opts.excludedNamespaces));
    this.enrolled = enr.map((e) => e.enrolled);
    this.enrollmentWhy = enr.map((e) => e.why);
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
      return { index, peers: Bitset.full(n), ports: rule.ports?.length ? rule.ports : undefined };
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
    return { index, peers: set, ports: rule.ports?.length ? rule.ports : undefined };
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

  /** Fast path: allowed or not (no reason string). */
  allowed(s: number, d: number, port: number): boolean {
    return this.netpolAllowed(s, d, port) && this.meshOutcome(s, d, port).outcome === 'allow';
  }

  private judged(s: number, d: number, port: number): { port: number; hbone: boolean } {
    const hbone = (this.enrolled[s] ?? false) && (this.enrolled[d] ?? false);
    return { port: hbone ? HBONE_PORT : port, hbone };
  }

  private netpolAllowed(s: number, d: number, port: number): boolean {
    const j = this.judged(s, d, port);
    if ((this.ingressOf[d]?.length ?? 0) > 0 && !this.ingressAllows(d, s, j.port)) return false;
    if ((this.egressOf[s]?.length ?? 0) > 0 && !this.egressAllows(s, d, j.port)) return false;
    return true;
  }

  private meshOutcome(s: number, d: number, port: number) {
    const dst = this.pods[d] as PodInfo;
    if (
      !this.enrolled[d] ||
      (!this.state.authorizationPolicies?.length && !this.state.peerAuthentications?.length)
    )
      return { outcome: 'allow' as const, reason: '' };
    const src = this.pods[s] as PodInfo;
    return meshVerdict(
      { pod: src, ip: src.ip, mtls: this.enrolled[s] ?? false },
      dst,
      port,
      this.state.peerAuthentications ?? [],
      this.state.authorizationPolicies ?? [],
      this.state.istioNamespace ?? 'istio-system',
    );
  }

  /** One cell with its outcome and the reason for it. */
  cell(s: number, d: number, port: number): Cell {
    const src = this.pods[s] as PodInfo;
    const dst = this.pods[d] as PodInfo;
    const j = this.judged(s, d, port);
    const base = {
      from: key(src),
      to: key(dst),
      port,
      protocol: 'TCP' as const,
      judgedPort: j.port,
      hbone: j.hbone,
    };
    const at = j.hbone
      ? `TCP ${HBONE_PORT} (HBONE: both ends enrolled, app port ${port} not judged)`
      : `TCP ${port} (plaintext: ${!this.enrolled[s] ? `${base.from} not enrolled` : `${base.to} not enrolled`})`;
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
    const mesh = this.meshOutcome(s, d, port);
    if (mesh.outcome === 'deny') return { ...base, allowed: false, outcome: 'deny', reason: mesh.reason };
    return {
      ...base,
      allowed: true,
      outcome: 'allow',
      reason: `allow on ${at}: ${why.join('; ')}${mesh.reason ? `; ${mesh.reason}` : ''}`,
    };
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

  /** Every (from, to, port) cell, from != to. */
  matrix(ports?: number[]): Cell[] {
    return [...this.cells(ports)];
  }

  /** The cells of matrix(), one at a time and in the same order, so that large matrices stream. */
  *cells(ports?: number[]): Generator<Cell> {
    const portsOf = this.pods.map((_, d) => this.portsOf(d, ports));
    for (let s = 0; s < this.pods.length; s++)
      for (let d = 0; d < this.pods.length; d++) {
        if (s === d) continue;
        for (const port of portsOf[d] ?? []) yield this.cell(s, d, port);
      }
  }

  /** How many cells matrix() would have, computed without evaluating any. */
  cellCount(ports?: number[]): number {
    return countCells(this.pods, ports);
  }

  /** One cell's outcome without its reason (tables of large clusters). */
  outcome(s: number, d: number, port: number): Cell['outcome'] {
    if (!this.netpolAllowed(s, d, port)) return 'drop';
    return this.meshOutcome(s, d, port).outcome;
  }

  /** Counts allowed cells without building reasons (benchmarks, large clusters). */
  countAllowed(ports?: number[]): { cells: number; allowed: number } {
    let cells = 0;
    let allowed = 0;
    for (let s = 0; s < this.pods.length; s++)
      for (let d = 0; d < this.pods.length; d++) {
        if (s === d) continue;
        for (const port of this.portsOf(d, ports)) {
          cells++;
          if (this.allowed(s, d, port)) allowed++;
        }
      }
    return { cells, allowed };
  }
}

/** Ports to evaluate for a destination pod: the given ones, else its TCP container ports. */
export function destinationPorts(pod: PodInfo, ports?: number[]): number[] {
  if (ports?.length) return ports;
  return [
    ...new Set(pod.ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort)),
  ].sort((a, b) => a - b);
}

/**
 * How many cells a model of these pods would evaluate (host-network pods are left out, as the model
 * does), without building the model: so that a matrix too large to answer is refused at once.
 */
export function countCells(pods: PodInfo[], ports?: number[]): number {
  const placed = pods.filter((p) => !p.hostNetwork);
  let total = 0;
  for (const d of placed) total += (placed.length - 1) * destinationPorts(d, ports).length;
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
