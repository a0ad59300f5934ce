import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { toTyped, toWire } from '../kube/wire.ts';
import type { NetworkPolicyJson } from './policies.ts';
import type { ConformanceContext } from '../conformance/define.ts';
import { createWithRetry, withRetry, type KubeClients } from '../kube/client.ts';
import { execInPod } from '../kube/exec.ts';
import { KINDNET_HOST_TRAFFIC } from '../kube/ops.ts';
import { describePod, isPodReady, podImpossible } from '../kube/health.ts';
import {
  converge,
  type BatchRunner,
  type Observation,
  type PlannedProbe,
  type ProbeClient,
} from '../probe/engine.ts';
import { expectedClass } from '../probe/outcome.ts';
import { buildProbeScript, DEFAULT_PROBE_TIMEOUTS, parseProbeOutput } from '../probe/script.ts';
import { objectsToState } from '../reachability/manifests.ts';
import { ReachabilityModel } from '../reachability/model.ts';
import {
  cellKey,
  mismatches,
  renderComparison,
  renderExpected,
  renderMismatches,
  renderObserved,
  type Mismatch,
} from '../reachability/render.ts';
import type { Cell, ClusterState } from '../reachability/types.ts';
import { pollUntil } from '../wait.ts';
import { CLIENT_CONTAINER, clientPod, dualPortServerPod, SERVER_PORTS } from '../workloads.ts';

/**
 * One connectivity case, the way Kubernetes' NetworkPolicy e2e runs one: fresh namespaces and
 * servers, the policies under test, then fresh clients (created after the policies, so no pooled
 * HBONE connection predates them), every client × server × port probed until it converges, and
 * the expected, observed and comparison matrices attached to the report.
 */

export interface CaseNamespace {
  key: string;
  meshed: boolean;
}

export interface CasePod {
  ns: string;
  name: string;
  /** Pin to a node (same-node versus cross-node paths). */
  node?: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
}

export interface IstioObject {
  apiVersion: string;
  kind: 'AuthorizationPolicy' | 'PeerAuthentication';
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface MatrixCaseSpec {
  namespaces: CaseNamespace[];
  servers: CasePod[];
  clients: CasePod[];
  /** The NetworkPolicies under test, given the actual namespace names by key. */
  policies?: (ns: Record<string, string>) => NetworkPolicyJson[];
  /** Istio policies under test (PeerAuthentication, AuthorizationPolicy). */
  istio?: (ns: Record<string, string>) => IstioObject[];
  ports?: number[];
  /** Attach names for artifacts (default: matrix). */
  label?: string;
}

export interface MatrixCaseResult {
  ns: Record<string, string>;
  state: ClusterState;
  model: ReachabilityModel;
  cells: Cell[];
  observations: Observation[];
  mismatches: Mismatch[];
  clients: Map<string, { pod: V1Pod; ip: string; node: string }>;
}

function rand(): string {
  return Math.random().toString(36).slice(2, 7);
}

export async function ensureServiceAccount(
  kube: KubeClients,
  namespace: string,
  name: string,
): Promise<void> {
  if (name === 'default') return;
  try {
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

/** Waits until the pods exist, are Ready, and (in meshed namespaces) carry the redirection annotation. */
export async function waitPodsReady(
  ctx: ConformanceContext,
  refs: { namespace: string; name: string; meshed: boolean }[],
): Promise<Map<string, V1Pod>> {
  const result = new Map<string, V1Pod>();
  await pollUntil({
    signal: ctx.kube.signal,
    what: `${refs.length} probe pod(s) Ready${refs.some((r) => r.meshed) ? ' and captured by istio-cni' : ''}`,
    timeoutMs: ctx.timeouts.podReady,
    intervalMs: ctx.timeouts.pollInterval,
    read: () =>
      Promise.all(refs.map((r) => ctx.kube.core.readNamespacedPod({ namespace: r.namespace, name: r.name }))),
    judge: (pods) => {
      const notYet = pods.filter(
        (p, i) =>
          !isPodReady(p) ||
          (refs[i]?.meshed && p.metadata?.annotations?.['ambient.istio.io/redirection'] !== 'enabled'),
      );
      const impossible = pods.map(podImpossible).find(Boolean);
      pods.forEach((p) => result.set(`${p.metadata?.namespace}/${p.metadata?.name}`, p));
      return {
        done: notYet.length === 0,
        seen:
          notYet
            .map(
              (p) =>
                `${describePod(p)} redirection=${p.metadata?.annotations?.['ambient.istio.io/redirection'] ?? '(absent)'}`,
            )
            .join('; ') || 'all ready',
        ...(impossible ? { impossible } : {}),
      };
    },
  });
  return result;
}

export function execBatchRunner(kube: KubeClients, timeoutMs: number): BatchRunner {
  const t = DEFAULT_PROBE_TIMEOUTS;
  return async (client: ProbeClient, specs) => {
    const script = buildProbeScript(specs, t);
    try {
      const out = await withRetry(`probe exec in ${client.namespace}/${client.pod}`, () =>
        execInPod(
          kube,
          client.namespace,
          client.pod,
          client.container,
          ['sh', '-c', script],
          Math.max(timeoutMs, (t.maxSeconds + 20) * 1000),
        ),
      );
      return parseProbeOutput(
        out.stdout,
        specs.map((s) => s.id),
      );
    } catch (e) {
      const detail = `exec failed: ${e instanceof Error ? e.message : String(e)}`;
      return specs.map((s) => ({
        id: s.id,
        class: 'other' as const,
        exitCode: -1,
        httpCode: 0,
        elapsedMs: 0,
        detail,
      }));
    }
  };
}

/** The cluster state of the case's namespaces, as the API has it, for the model. */
/** `exempt` where the run found kindnet (it accepts root-owned host sockets), else `judged`. */
function hostTrafficOf(ctx: ConformanceContext): 'judged' | 'exempt' {
  const f = ctx.facts.features.hostTrafficJudged;
  return !f.available && f.reason === KINDNET_HOST_TRAFFIC ? 'exempt' : 'judged';
}

export async function readState(
  kube: KubeClients,
  namespaces: string[],
  istioNamespace: string,
): Promise<ClusterState> {
  const objects: { source: string; object: Record<string, unknown> }[] = [];
  // Typed client models go back to wire JSON (NetworkPolicy `_from` -> `from`) before the model reads them.
  const add = (kind: string, apiVersion: string, items: object[]) => {
    for (const item of items) objects.push({ source: 'api', object: toWire(item, apiVersion, kind) });
  };
  for (const ns of namespaces) {
    add('Namespace', 'v1', [await kube.core.readNamespace({ name: ns })]);
    add('Pod', 'v1', (await kube.core.listNamespacedPod({ namespace: ns })).items);
    add(
      'NetworkPolicy',
      'networking.k8s.io/v1',
      (await kube.networking.listNamespacedNetworkPolicy({ namespace: ns })).items,
    );
  }
  for (const ns of [...namespaces, istioNamespace]) {
    for (const [plural, kind] of [
      ['peerauthentications', 'PeerAuthentication'],
      ['authorizationpolicies', 'AuthorizationPolicy'],
    ] as const) {
      const list = (await kube.custom
        .listNamespacedCustomObject({ group: 'security.istio.io', version: 'v1', namespace: ns, plural })
        .catch(() => ({ items: [] }))) as { items?: object[] };
      add(kind, 'security.istio.io/v1', list.items ?? []);
    }
  }
  const { state } = objectsToState(objects);
  return { ...state, istioNamespace };
}

async function applyIstio(ctx: ConformanceContext, objs: IstioObject[]): Promise<void> {
  for (const o of objs) {
    const plural = o.kind === 'AuthorizationPolicy' ? 'authorizationpolicies' : 'peerauthentications';
    const body = {
      ...o,
      metadata: {
        ...o.metadata,
        labels: { ...(o.metadata.labels ?? {}), 'ambient-conformance.io/run-id': ctx.facts.runId },
      },
    };
    await createWithRetry(`create ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`, () =>
      ctx.kube.custom.createNamespacedCustomObject({
        group: 'security.istio.io',
        version: 'v1',
        namespace: o.metadata.namespace,
        plural,
        body,
      }),
    );
    ctx.scope.onCleanup(`delete ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`, async (kube) => {
      await kube.custom
        .deleteNamespacedCustomObject({
          group: 'security.istio.io',
          version: 'v1',
          namespace: o.metadata.namespace,
          plural,
          name: o.metadata.name,
        })
        .catch(() => undefined);
    });
  }
}

/** Creates a NetworkPolicy given as Kubernetes JSON, through the typed model so that `from` survives. */
export async function createNetworkPolicy(kube: KubeClients, np: NetworkPolicyJson): Promise<void> {
  const namespace = np.metadata.namespace;
  const body = toTyped<V1NetworkPolicy>(np);
  await createWithRetry(`create NetworkPolicy ${namespace}/${np.metadata.name}`, () =>
    kube.networking.createNamespacedNetworkPolicy({ namespace, body }),
  );
}

export async function applyNetworkPolicies(
  ctx: ConformanceContext,
  list: NetworkPolicyJson[],
): Promise<void> {
  for (const np of list) await createNetworkPolicy(ctx.kube, np);
}

export async function createPods(
  ctx: ConformanceContext,
  ns: Record<string, string>,
  meshed: Record<string, boolean>,
  pods: CasePod[],
  role: 'server' | 'client',
): Promise<Map<string, V1Pod>> {
  const refs: { namespace: string; name: string; meshed: boolean }[] = [];
  for (const p of pods) {
    const namespace = ns[p.ns] ?? '';
    const sa = p.serviceAccount ?? `probe-${p.ns}`;
    await ensureServiceAccount(ctx.kube, namespace, sa);
    const name = role === 'client' ? `client-${p.name}-${rand()}` : p.name;
    const opts = {
      name,
      namespace,
      runId: ctx.facts.runId,
      serviceAccountName: sa,
      labels: { pod: p.name, ...(p.labels ?? {}) },
      ...(p.node ? { nodeName: p.node } : {}),
    };
    await createWithRetry(`create pod ${namespace}/${name}`, () =>
      ctx.kube.core.createNamespacedPod({
        namespace,
        body: role === 'client' ? clientPod(opts) : dualPortServerPod(opts),
      }),
    );
    refs.push({ namespace, name, meshed: meshed[p.ns] ?? false });
  }
  return waitPodsReady(ctx, refs);
}

export async function runMatrixCase(
  ctx: ConformanceContext,
  spec: MatrixCaseSpec,
): Promise<MatrixCaseResult> {
  const label = spec.label ?? 'matrix';
  const ns: Record<string, string> = {};
  const meshed: Record<string, boolean> = {};
  for (const n of spec.namespaces) {
    ns[n.key] = await ctx.scope.namespace({
      ambient: n.meshed,
      prefix: `${ctx.scope.id.toLowerCase()}-${n.key}`,
    });
    meshed[n.key] = n.meshed;
  }
  const servers = await createPods(ctx, ns, meshed, spec.servers, 'server');
  await applyNetworkPolicies(ctx, spec.policies?.(ns) ?? []);
  await applyIstio(ctx, spec.istio?.(ns) ?? []);
  const nsNames = Object.values(ns);

  // Wait until the policies are in force, with a throwaway canary client per source namespace
  // whose first prediction is not "allow", so the real clients' first connections are judged.
  const canaries: CasePod[] = [];
  for (const c of spec.clients)
    if (!canaries.some((x) => x.ns === c.ns))
      canaries.push({ ...c, name: 'canary', labels: { pod: c.name, ...(c.labels ?? {}) } });
  if ((spec.policies || spec.istio) && canaries.length) {
    const canaryPods = await createPods(ctx, ns, meshed, canaries, 'client');
    const canaryState = await readState(ctx.kube, nsNames, ctx.facts.istioNamespace);
    const cm = new ReachabilityModel(canaryState, { hostTraffic: hostTrafficOf(ctx) });
    const probes: PlannedProbe[] = [];
    for (const [ref, pod] of canaryPods) {
      const s = cm.podIndex(ref);
      if (s === undefined) continue;
      for (const [sref, server] of servers) {
        const d = cm.podIndex(sref);
        if (d === undefined) continue;
        const cell = cm.cell(s, d, SERVER_PORTS[0]);
        if (cell.outcome !== 'allow')
          probes.push({
            id: `canary${probes.length}`,
            client: {
              namespace: pod.metadata?.namespace ?? '',
              pod: pod.metadata?.name ?? '',
              container: CLIENT_CONTAINER,
            },
            to: sref,
            ip: server.status?.podIP ?? '',
            port: SERVER_PORTS[0],
            expected: expectedClass(cell.outcome),
          });
        if (probes.length >= 4) break;
      }
    }
    if (probes.length) {
      const obs = await converge(probes, execBatchRunner(ctx.kube, ctx.timeouts.exec), {
        timeoutMs: ctx.timeouts.dataplaneConvergence,
        successes: 1,
        failures: 1,
      });
      ctx.scope.log(
        `policies in force (canary): ${obs.map((o) => `${o.probe.client.namespace}/${o.probe.client.pod} -> ${o.probe.to} ${o.observed}`).join(', ')}`,
      );
    }
  }

  const clientPods = await createPods(ctx, ns, meshed, spec.clients, 'client');
  const state = await readState(ctx.kube, nsNames, ctx.facts.istioNamespace);
  // The canaries took their part; the matrix is judged for the fresh clients only.
  // Only pod-to-pod cells are probed below: the kubelet and host-network rows of the model are left
  // out, since no probe can run as the kubelet. kindnet exempts the node's own traffic.
  const model = new ReachabilityModel(state, { hostTraffic: hostTrafficOf(ctx) });
  const ports = spec.ports ?? [...SERVER_PORTS];
  const cells: Cell[] = [];
  const probes: PlannedProbe[] = [];
  const clients = new Map<string, { pod: V1Pod; ip: string; node: string }>();
  for (const [cref, cpod] of clientPods) {
    clients.set(cref, { pod: cpod, ip: cpod.status?.podIP ?? '', node: cpod.spec?.nodeName ?? '' });
    const s = model.podIndex(cref);
    if (s === undefined) continue;
    for (const [sref, spod] of servers) {
      const d = model.podIndex(sref);
      if (d === undefined) continue;
      for (const port of ports) {
        const cell = model.cell(s, d, port);
        cells.push(cell);
        probes.push({
          id: `p${probes.length}`,
          client: {
            namespace: cpod.metadata?.namespace ?? '',
            pod: cpod.metadata?.name ?? '',
            container: CLIENT_CONTAINER,
            ip: cpod.status?.podIP ?? '',
          },
          to: sref,
          ip: spod.status?.podIP ?? '',
          port,
          expected: expectedClass(cell.outcome),
        });
      }
    }
  }
  const observations = await converge(probes, execBatchRunner(ctx.kube, ctx.timeouts.exec), {
    timeoutMs: ctx.timeouts.dataplaneConvergence,
  });
  const reasons = new Map(cells.map((c) => [cellKey(c), c.reason]));
  const wrong = mismatches(observations, reasons);
  ctx.scope.attach(`${label}-expected.txt`, renderExpected(cells));
  ctx.scope.attach(`${label}-observed.txt`, renderObserved(observations));
  ctx.scope.attach(
    `${label}-comparison.txt`,
    `${renderComparison(observations)}\n\n${renderMismatches(wrong)}`,
  );
  ctx.scope.attach(
    `${label}-cells.json`,
    JSON.stringify(
      {
        cells,
        observations: observations.map((o) => ({
          id: o.probe.id,
          from: `${o.probe.client.namespace}/${o.probe.client.pod}`,
          to: o.probe.to,
          port: o.probe.port,
          expected: o.probe.expected,
          observed: o.observed,
          settled: o.settled,
          inconclusive: o.inconclusive,
          history: o.history,
          last: o.last,
        })),
      },
      null,
      2,
    ),
  );
  return { ns, state, model, cells, observations, mismatches: wrong, clients };
}

/** The assertion message for a matrix: the comparison and each wrong cell with its reproduction. */
export function matrixFailure(r: MatrixCaseResult): string {
  return `${r.mismatches.length} cell(s) differ from the model:\n${renderComparison(r.observations)}\n\n${renderMismatches(r.mismatches)}`;
}
