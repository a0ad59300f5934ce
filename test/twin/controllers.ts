import { createHash } from 'node:crypto';
import { AMBIENT_REDIRECTION, shouldEnroll } from './dataplane.ts';
import { rfc3339, type KubeObject, type StoreEvent, type TwinStore } from './apiserver.ts';

/**
 * The twin's controllers: what kind's kubelets, kube-scheduler, kube-controller-manager, istio-cni's
 * node agent and metrics-server do to the objects in a TwinStore, driven by the store's change
 * events. A change schedules one level-triggered pass over everything (a test cluster is small);
 * a pass writes only what differs, so the passes stop when the state has converged. The only
 * simulated delays are opts' (container start, metrics resolution), on timers that stop() clears.
 *
 * Not modelled: graceful pod deletion (the store removes a pod at once unless it has finalizers),
 * probes (a container is Ready when it runs), container exits and restarts, resource requests in
 * scheduling, maxSurge/maxUnavailable arithmetic (see reconcileDeployment), Recreate, StatefulSets,
 * Jobs, Services/Endpoints, ControllerRevisions, Events, leases.
 */

// Test code: objects are wire JSON, walked loosely.
type J = any;

export interface ContainerUsage {
  /** CPU in nanocores ("n" units). */
  cpuNanocores: number;
  /** Memory in KiB. */
  memoryKi: number;
}

export interface ControllerOptions {
  /** kind cluster name: nodes are <name>-control-plane, <name>-worker, <name>-worker2 (default "kind"). */
  clusterName?: string;
  /** From a pod's scheduling to its containers running and Ready (ms, default 30). */
  podStartDelayMs?: number;
  /**
   * Images that never pull. An array: their containers wait with reason ImagePullBackOff. A map:
   * image → waiting reason (e.g. "InvalidImageName", "ErrImageNeverPull").
   */
  failingImages?: readonly string[] | Readonly<Record<string, string>>;
  /** metrics-server's --metric-resolution (ms, default 50). */
  metricResolutionMs?: number;
  /** Per-container usage for pods with a label, keyed "key=value" (first match wins); else derived from the pod. */
  usage?: Readonly<Record<string, ContainerUsage>>;
  /** kubelet version in node.status.nodeInfo (default v1.34.0). */
  kubeletVersion?: string;
  /** Clock for timestamps (default new Date()). */
  clock?: () => Date;
  /**
   * Create kind's three nodes at start (default true). False when the twin's `kind create cluster`
   * creates them, as in a whole run.
   */
  createNodes?: boolean;
}

export interface Controllers {
  /** Stops reacting and clears every pending timer. */
  stop(): Promise<void>;
  /** Resolves when no pass, container start or store background work (GC, namespace deletion) is pending. */
  idle(): Promise<void>;
}

const POD = { group: '', resource: 'pods' };
const NODE = { group: '', resource: 'nodes' };
const NS = { group: '', resource: 'namespaces' };
const DEPLOY = { group: 'apps', resource: 'deployments' };
const RS = { group: 'apps', resource: 'replicasets' };
const DS = { group: 'apps', resource: 'daemonsets' };
const POD_METRICS = { group: 'metrics.k8s.io', resource: 'pods' };
const NODE_METRICS = { group: 'metrics.k8s.io', resource: 'nodes' };
const APISERVICE = { group: 'apiregistration.k8s.io', resource: 'apiservices' };
const SERVICE = { group: '', resource: 'services' };

export const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
export const CNI_NODE_LABEL = { key: 'k8s-app', value: 'istio-cni-node' };

/** The nodes of a default 3-node kind cluster (kind v0.30.0 with kindest/node v1.34.0). */
export function kindNodes(clusterName = 'kind', kubeletVersion = 'v1.34.0'): KubeObject[] {
  const names = [`${clusterName}-control-plane`, `${clusterName}-worker`, `${clusterName}-worker2`];
  return names.map((name, i) => {
    const cp = i === 0;
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'beta.kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          ...(cp
            ? {
                'node-role.kubernetes.io/control-plane': '',
                'node.kubernetes.io/exclude-from-external-load-balancers': '',
              }
            : {}),
        },
        annotations: {
          'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: {
        podCIDR: `10.244.${i}.0/24`,
        podCIDRs: [`10.244.${i}.0/24`],
        providerID: `kind://docker/${clusterName}/${name}`,
        ...(cp ? { taints: [{ ...CONTROL_PLANE_TAINT }] } : {}),
      },
      status: {
        addresses: [
          { type: 'InternalIP', address: `172.18.0.${i + 2}` },
          { type: 'Hostname', address: name },
        ],
        allocatable: {
          cpu: '8',
          'ephemeral-storage': '102626232Ki',
          'hugepages-2Mi': '0',
          memory: '16314108Ki',
          pods: '110',
        },
        capacity: {
          cpu: '8',
          'ephemeral-storage': '102626232Ki',
          'hugepages-2Mi': '0',
          memory: '16314108Ki',
          pods: '110',
        },
        conditions: [
          [
            'MemoryPressure',
            'False',
            'KubeletHasSufficientMemory',
            'kubelet has sufficient memory available',
          ],
          ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
          ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
          ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
        ].map(([type, status, reason, message]) => ({ type, status, reason, message })),
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          architecture: 'amd64',
          bootID: hex(`boot/${name}`).slice(0, 32),
          containerRuntimeVersion: 'containerd://2.1.3',
          kernelVersion: '6.8.0-1021-azure',
          kubeProxyVersion: kubeletVersion,
          kubeletVersion,
          machineID: hex(`machine/${name}`).slice(0, 32),
          operatingSystem: 'linux',
          osImage: 'Debian GNU/Linux 12 (bookworm)',
          systemUUID: hex(`uuid/${name}`).slice(0, 32),
        },
      },
    };
  });
}

// ---- helpers ----

function hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** fnv32a, as pod-template-hash and controller-revision-hash are computed upstream (over Go's dump). */
function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** apimachinery rand.SafeEncodeString of the decimal hash. */
function templateHash(template: unknown): string {
  const alphanums = 'bcdfghjklmnpqrstvwxz2456789';
  return [...String(fnv32a(JSON.stringify(template ?? {})))]
    .map((c) => alphanums[c.charCodeAt(0) % alphanums.length])
    .join('');
}

const labelsOf = (o: J): Record<string, string> => o?.metadata?.labels ?? {};
const keyOf = (o: J) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const controllerOf = (o: J): J => (o.metadata?.ownerReferences ?? []).find((r: J) => r.controller === true);

function matchExpr(value: string | undefined, has: boolean, e: J): boolean {
  const values: string[] = e.values ?? [];
  switch (e.operator) {
    case 'In':
      return has && values.includes(value ?? '');
    case 'NotIn':
      return !has || !values.includes(value ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(value) > Number(values[0]);
    case 'Lt':
      return has && Number(value) < Number(values[0]);
    default:
      return false;
  }
}

/** metav1.LabelSelector: matchLabels and matchExpressions (In/NotIn/Exists/DoesNotExist). */
export function selectorMatches(sel: J, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries<string>(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? [])
    if (!matchExpr(labels[e.key as string], Object.hasOwn(labels, e.key as string), e)) return false;
  return true;
}

/** core/v1 toleration semantics for one taint. */
export function tolerates(tolerations: J[] | undefined, taint: J): boolean {
  return (tolerations ?? []).some((t: J) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

function nodeReady(n: J): boolean {
  return (n.status?.conditions ?? []).some((c: J) => c.type === 'Ready' && c.status === 'True');
}

/** Why `node` cannot take a pod with `spec`, or undefined if it can (the scheduler's filters the twin has). */
export function unfit(spec: J, node: J): string | undefined {
  if (!nodeReady(node)) return 'node(s) were not ready';
  if (
    node.spec?.unschedulable &&
    !tolerates(spec.tolerations, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })
  )
    return 'node(s) were unschedulable';
  const labels = labelsOf(node);
  for (const [k, v] of Object.entries<string>(spec.nodeSelector ?? {}))
    if (labels[k] !== v) return "node(s) didn't match Pod's node affinity/selector";
  const terms: J[] | undefined =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms?.length) {
    const fields: Record<string, string> = { 'metadata.name': node.metadata.name as string };
    const ok = terms.some(
      (t: J) =>
        (t.matchExpressions?.length || t.matchFields?.length) &&
        (t.matchExpressions ?? []).every((e: J) =>
          matchExpr(labels[e.key as string], Object.hasOwn(labels, e.key as string), e),
        ) &&
        (t.matchFields ?? []).every((e: J) => matchExpr(fields[e.key as string], e.key in fields, e)),
    );
    if (!ok) return "node(s) didn't match Pod's node affinity/selector";
  }
  for (const taint of node.spec?.taints ?? [])
    if (
      (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') &&
      !tolerates(spec.tolerations, taint)
    )
      return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
  return undefined;
}

function ipInCidr(cidr: string, n: number): string {
  const [base = '0.0.0.0'] = cidr.split('/');
  const p = base.split('.').map(Number);
  const v = (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) + n;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function nodeIp(node: J): string {
  return (node?.status?.addresses ?? []).find((a: J) => a.type === 'InternalIP')?.address ?? '';
}

/** containerd's view of an image reference: fully qualified name, and the imageID with a digest. */
function imageRef(image: string): { image: string; imageID: string } {
  const at = image.indexOf('@');
  const named = at >= 0 ? image.slice(0, at) : image;
  const digest = at >= 0 ? image.slice(at + 1) : `sha256:${hex(`image/${image}`)}`;
  const slash = named.indexOf('/');
  const first = slash >= 0 ? named.slice(0, slash) : '';
  let full = named;
  if (slash < 0) full = `docker.io/library/${named}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') full = `docker.io/${named}`;
  const lastColon = full.lastIndexOf(':');
  const repo = lastColon > full.lastIndexOf('/') ? full.slice(0, lastColon) : full;
  const tagged = at >= 0 ? full : lastColon > full.lastIndexOf('/') ? full : `${full}:latest`;
  return { image: tagged, imageID: `${repo}@${digest}` };
}

function qosClass(spec: J): string {
  const cs: J[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const any = cs.some(
    (c) => Object.keys(c.resources?.requests ?? {}).length || Object.keys(c.resources?.limits ?? {}).length,
  );
  if (!any) return 'BestEffort';
  const guaranteed = (spec.containers ?? []).every((c: J) => {
    const l = c.resources?.limits ?? {};
    const r = { ...l, ...(c.resources?.requests ?? {}) };
    return l.cpu && l.memory && r.cpu === l.cpu && r.memory === l.memory;
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

// ---- the controllers ----

interface PodState {
  node: string;
  ip: string;
  seenAt: string;
  startedAt?: string;
  timer?: NodeJS.Timeout;
}

export function startControllers(store: TwinStore, opts: ControllerOptions = {}): Controllers {
  const clock = opts.clock ?? (() => new Date());
  const now = () => rfc3339(clock());
  const startDelay = opts.podStartDelayMs ?? 30;
  const resolution = opts.metricResolutionMs ?? 50;
  const failing: Record<string, string> = Array.isArray(opts.failingImages)
    ? Object.fromEntries((opts.failingImages as string[]).map((i) => [i, 'ImagePullBackOff']))
    : { ...(opts.failingImages as Record<string, string> | undefined) };

  const timers = new Set<NodeJS.Timeout>();
  let metricsTimer: NodeJS.Timeout | undefined;
  let passTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const pods = new Map<string, PodState>(); // by uid
  const revisions = new Map<string, number>(); // deployment uid → last revision
  let rr = 0;
  /** PodMetrics are served from the second scrape a pod is Running in (metrics-server needs two). */
  const scrapedOnce = new Set<string>();

  const after = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const requestPass = () => {
    if (stopped || passTimer) return;
    passTimer = after(0, () => {
      passTimer = undefined;
      pass();
    });
  };
  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      // A namespace going away under a controller, or a write racing a client's: retried next pass.
      if (process.env.TWIN_DEBUG) console.error(`twin controller ${what}:`, e);
    }
  };

  // Nodes, as kind creates them.
  if (opts.createNodes !== false)
    for (const n of kindNodes(opts.clusterName, opts.kubeletVersion))
      if (!store.get(NODE, { name: n.metadata.name ?? '' })) store.create(NODE, n);

  const unwatch = store.watch((e: StoreEvent) => {
    if (e.resource.group === 'metrics.k8s.io') return;
    if (e.resource.group === '' && e.resource.resource === 'pods' && e.type === 'DELETED') {
      const st = pods.get(e.object.metadata.uid ?? '');
      if (st?.timer) {
        clearTimeout(st.timer);
        timers.delete(st.timer);
      }
      pods.delete(e.object.metadata.uid ?? '');
    }
    requestPass();
  });
  requestPass();

  function pass(): void {
    const nodes = store.list<J>(NODE);
    for (const p of store.list<J>(POD)) safely(`schedule ${keyOf(p)}`, () => schedule(p, nodes));
    for (const d of store.list<J>(DEPLOY)) safely(`deployment ${keyOf(d)}`, () => reconcileDeployment(d));
    for (const rs of store.list<J>(RS)) safely(`replicaset ${keyOf(rs)}`, () => reconcileReplicaSet(rs));
    for (const ds of store.list<J>(DS)) safely(`daemonset ${keyOf(ds)}`, () => reconcileDaemonSet(ds, nodes));
    const cniNodes = cniReadyNodes();
    for (const p of store.list<J>(POD)) safely(`kubelet ${keyOf(p)}`, () => kubelet(p, nodes, cniNodes));
    metricsServer();
  }

  // ---- kube-scheduler ----

  function schedule(p: J, nodes: J[]): void {
    if (p.spec?.nodeName || p.metadata.deletionTimestamp) return;
    if ((p.spec?.schedulerName ?? 'default-scheduler') !== 'default-scheduler') return;
    const fits = nodes.filter((n) => !unfit(p.spec ?? {}, n));
    if (!fits.length) {
      const reasons = new Map<string, number>();
      for (const n of nodes) {
        const r = unfit(p.spec ?? {}, n) ?? '';
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
      }
      const why = [...reasons].map(([r, c]) => `${c} ${r}`).join(', ');
      const message = `0/${nodes.length} nodes are available: ${why}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
      store.mutate<J>(POD, key(p), (d) => {
        d.status = { ...d.status, phase: 'Pending' };
        setCondition(
          d.status,
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message },
          now(),
        );
      });
      return;
    }
    // Spread: fewest pods first, then round robin among the equal.
    const load = new Map<string, number>();
    for (const q of store.list<J>(POD))
      if (q.spec?.nodeName) load.set(q.spec.nodeName, (load.get(q.spec.nodeName) ?? 0) + 1);
    const least = Math.min(...fits.map((n) => load.get(n.metadata.name) ?? 0));
    const ties = fits.filter((n) => (load.get(n.metadata.name) ?? 0) === least);
    const chosen = ties[rr++ % ties.length];
    store.mutate<J>(POD, key(p), (d) => {
      d.spec.nodeName = chosen.metadata.name;
      d.status ??= {};
      setCondition(d.status, { type: 'PodScheduled', status: 'True' }, now());
    });
  }

  // ---- kubelet (and istio-cni's node agent, which acts at sandbox creation) ----

  function cniReadyNodes(): Set<string> {
    const out = new Set<string>();
    for (const p of store.list<J>(POD, { labelSelector: `${CNI_NODE_LABEL.key}=${CNI_NODE_LABEL.value}` }))
      if (controllerOf(p)?.kind === 'DaemonSet' && p.spec?.nodeName && podReady(p))
        out.add(p.spec.nodeName as string);
    return out;
  }

  function allocateIp(node: J, uid: string): string {
    const used = new Set(
      [...pods.entries()].filter(([u, s]) => u !== uid && s.node === node.metadata.name).map(([, s]) => s.ip),
    );
    for (const q of store.list<J>(POD))
      if (q.spec?.nodeName === node.metadata.name && q.status?.podIP) used.add(q.status.podIP);
    const cidr: string = node.spec?.podCIDR ?? '10.244.0.0/24';
    for (let i = 2; i < 255; i++) {
      const ip = ipInCidr(cidr, i);
      if (!used.has(ip)) return ip;
    }
    throw new Error(`twin: node ${node.metadata.name} has no free pod IP`);
  }

  function kubelet(p: J, nodes: J[], cniNodes: Set<string>): void {
    const nodeName: string | undefined = p.spec?.nodeName;
    if (!nodeName || p.metadata.deletionTimestamp) return;
    const phase = p.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const node = nodes.find((n) => n.metadata.name === nodeName);
    if (!node) return; // a pod bound to a node that does not exist stays Pending, as upstream
    const uid: string = p.metadata.uid;
    let st = pods.get(uid);
    if (!st) {
      const hostNetwork = p.spec?.hostNetwork === true;
      const ip = p.status?.podIP ?? (hostNetwork ? nodeIp(node) : allocateIp(node, uid));
      st = { node: nodeName, ip, seenAt: p.status?.startTime ?? now() };
      if (phase === 'Running') st.startedAt = st.seenAt;
      pods.set(uid, st);
    }
    const images: string[] = [...(p.spec.initContainers ?? []), ...(p.spec.containers ?? [])].map(
      (c: J) => c.image as string,
    );
    const blocked = images.some((i) => failing[i]);
    if (!st.startedAt && !blocked && !st.timer) {
      const s = st;
      s.timer = after(startDelay, () => {
        s.timer = undefined;
        s.startedAt = now();
        requestPass();
      });
    }

    const next = structuredClone(p);
    next.status = podStatus(p, node, st);
    // istio-cni: enrolls at sandbox creation, or when the node agent (re)starts and scans the node's pods;
    // takes a pod out when it stops qualifying. Nothing happens on a node without a Ready agent.
    if (cniNodes.has(nodeName)) {
      const ns = store.get<J>(NS, { name: p.metadata.namespace as string });
      const want = shouldEnroll(ns, next);
      const ann: Record<string, string> = { ...(next.metadata.annotations ?? {}) };
      if (want) ann[AMBIENT_REDIRECTION] = 'enabled';
      else delete ann[AMBIENT_REDIRECTION];
      if (Object.keys(ann).length) next.metadata.annotations = ann;
      else delete next.metadata.annotations;
    }
    store.update(POD, next);
  }

  function podStatus(p: J, node: J, st: PodState): J {
    const running = !!st.startedAt;
    const spec = p.spec;
    const old = p.status ?? {};
    const status: J = {
      ...old,
      phase: running ? 'Running' : 'Pending',
      hostIP: nodeIp(node),
      hostIPs: [{ ip: nodeIp(node) }],
      podIP: st.ip,
      podIPs: [{ ip: st.ip }],
      startTime: st.seenAt,
      qosClass: qosClass(spec),
    };
    const at = st.startedAt ?? st.seenAt;
    const conds: J[] = [...(old.conditions ?? [])];
    status.conditions = conds;
    setCondition(status, { type: 'PodReadyToStartContainers', status: 'True' }, st.seenAt);
    setCondition(
      status,
      { type: 'Initialized', status: running || !spec.initContainers?.length ? 'True' : 'False' },
      at,
    );
    const notReady = (spec.containers ?? []).map((c: J) => c.name).join(' ');
    const ready = running
      ? { status: 'True' }
      : {
          status: 'False',
          reason: 'ContainersNotReady',
          message: `containers with unready status: [${notReady}]`,
        };
    setCondition(status, { type: 'Ready', ...ready }, at);
    setCondition(status, { type: 'ContainersReady', ...ready }, at);
    setCondition(
      status,
      { type: 'PodScheduled', status: 'True' },
      old.conditions?.find((c: J) => c.type === 'PodScheduled')?.lastTransitionTime ?? st.seenAt,
    );
    const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
    status.conditions = conds.sort(
      (a, b) => order.indexOf(a.type as string) - order.indexOf(b.type as string),
    );

    const cstatus = (c: J, init: boolean): J => {
      const ref = imageRef(c.image as string);
      const reason = failing[c.image as string];
      const base = { name: c.name, image: ref.image, restartCount: 0 };
      if (reason)
        return {
          ...base,
          imageID: '',
          ready: false,
          started: false,
          state: {
            waiting: {
              reason,
              message:
                reason === 'ImagePullBackOff'
                  ? `Back-off pulling image "${c.image}": ErrImagePull: failed to pull and unpack image "${ref.image}": not found`
                  : `Failed to apply default image tag "${c.image}": couldn't parse image name`,
            },
          },
        };
      if (!running)
        return {
          ...base,
          imageID: '',
          ready: false,
          started: false,
          state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } },
        };
      if (init)
        return {
          ...base,
          imageID: ref.imageID,
          ready: true,
          started: false,
          state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at, finishedAt: at } },
        };
      return {
        ...base,
        imageID: ref.imageID,
        ready: true,
        started: true,
        state: { running: { startedAt: at } },
      };
    };
    status.containerStatuses = (spec.containers ?? []).map((c: J) => cstatus(c, false));
    if (spec.initContainers?.length)
      status.initContainerStatuses = spec.initContainers.map((c: J) => cstatus(c, true));
    else delete status.initContainerStatuses;
    return status;
  }

  // ---- deployment controller ----

  function reconcileDeployment(d: J): void {
    if (d.metadata.deletionTimestamp) return;
    const template = d.spec.template ?? {};
    const hash = templateHash(template);
    const owned = store
      .list<J>(RS, { namespace: d.metadata.namespace })
      .filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
    const desired: number = d.spec.replicas ?? 1;
    let last = revisions.get(d.metadata.uid) ?? 0;
    for (const rs of owned)
      last = Math.max(last, Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0));
    let current = owned.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
    const annotations = (rev: number) => ({
      'deployment.kubernetes.io/desired-replicas': String(desired),
      'deployment.kubernetes.io/max-replicas': String(desired + Math.ceil(desired * 0.25)),
      'deployment.kubernetes.io/revision': String(rev),
    });
    if (!current) {
      const rev = last + 1;
      revisions.set(d.metadata.uid, rev);
      const podLabels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
      current = store.create<J>(RS, {
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: d.metadata.namespace,
          labels: podLabels,
          annotations: annotations(rev),
          ownerReferences: [ownerRef(d, 'apps/v1', 'Deployment')],
        },
        spec: {
          replicas: desired,
          minReadySeconds: d.spec.minReadySeconds ?? 0,
          selector: {
            ...d.spec.selector,
            matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash },
          },
          template: { ...template, metadata: { ...(template.metadata ?? {}), labels: podLabels } },
        },
      });
      owned.push(current);
    } else if (current.spec.replicas !== desired) {
      const rev = Number(current.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? last);
      current = store.mutate<J>(RS, key(current), (r) => {
        r.spec.replicas = desired;
        r.metadata.annotations = { ...r.metadata.annotations, ...annotations(rev) };
      });
    }
    // Rolling update, simplified: old pods go as new ones become available (a surge of up to 100%).
    const newAvailable: number = current.status?.availableReplicas ?? 0;
    let oldAllowed = Math.max(0, desired - newAvailable);
    const olds = owned
      .filter((rs) => rs.metadata.uid !== current.metadata.uid)
      .sort(
        (a, b) =>
          Number(b.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0) -
          Number(a.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
      );
    for (const rs of olds) {
      const keep = Math.min(rs.spec.replicas ?? 0, oldAllowed);
      oldAllowed -= keep;
      if ((rs.spec.replicas ?? 0) !== keep) store.mutate<J>(RS, key(rs), (r) => (r.spec.replicas = keep));
    }
    // Old ReplicaSets beyond revisionHistoryLimit (default 10) with no pods are deleted.
    const limit: number = d.spec.revisionHistoryLimit ?? 10;
    const empty = olds.filter((rs) => (rs.spec.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0);
    for (const rs of empty.slice(limit)) store.delete(RS, key(rs));

    const all = store
      .list<J>(RS, { namespace: d.metadata.namespace })
      .filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
    const sum = (f: (s: J) => number) => all.reduce((a, rs) => a + f(rs.status ?? {}), 0);
    const cur = all.find((rs) => rs.metadata.uid === current.metadata.uid)?.status ?? {};
    const replicas = sum((s) => s.replicas ?? 0);
    const ready = sum((s) => s.readyReplicas ?? 0);
    const available = sum((s) => s.availableReplicas ?? 0);
    const updated: number = cur.replicas ?? 0;
    const maxUnavailable = Math.floor(desired * 0.25);
    const complete = updated === desired && replicas === desired && available === desired;
    const status: J = {
      observedGeneration: d.metadata.generation,
      ...(replicas ? { replicas } : {}),
      ...(updated ? { updatedReplicas: updated } : {}),
      ...(ready ? { readyReplicas: ready } : {}),
      ...(available ? { availableReplicas: available } : {}),
      ...(desired - available > 0 ? { unavailableReplicas: desired - available } : {}),
      conditions: structuredClone(d.status?.conditions ?? []),
    };
    const t = now();
    setCondition(
      status,
      available >= desired - maxUnavailable
        ? {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'MinimumReplicasUnavailable',
            message: 'Deployment does not have minimum availability.',
          },
      t,
      true,
    );
    setCondition(
      status,
      complete
        ? {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            message: `ReplicaSet "${current.metadata.name}" has successfully progressed.`,
          }
        : {
            type: 'Progressing',
            status: 'True',
            reason: 'ReplicaSetUpdated',
            message: `ReplicaSet "${current.metadata.name}" is progressing.`,
          },
      t,
      true,
    );
    writeStatus(DEPLOY, d, status);
  }

  // ---- replicaset controller ----

  function reconcileReplicaSet(rs: J): void {
    if (rs.metadata.deletionTimestamp) return;
    const mine = store
      .list<J>(POD, { namespace: rs.metadata.namespace })
      .filter((p) => controllerOf(p)?.uid === rs.metadata.uid && !p.metadata.deletionTimestamp)
      .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const want: number = rs.spec.replicas ?? 1;
    for (let i = mine.length; i < want; i++) mine.push(createPod(rs, 'ReplicaSet', rs.spec.template, {}));
    if (mine.length > want) {
      // Upstream's order: unscheduled, then pending, then not ready, then the newest.
      const rank = (p: J) =>
        !p.spec?.nodeName ? 0 : p.status?.phase !== 'Running' ? 1 : !podReady(p) ? 2 : 3;
      const victims = [...mine]
        .sort(
          (a, b) =>
            rank(a) - rank(b) ||
            String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)),
        )
        .slice(0, mine.length - want);
      for (const v of victims) store.delete(POD, key(v));
      mine.splice(0, mine.length, ...mine.filter((p) => !victims.includes(p)));
    }
    const ready = mine.filter(podReady).length;
    writeStatus(RS, rs, {
      replicas: mine.length,
      fullyLabeledReplicas: mine.filter((p) => selectorMatches(rs.spec.selector, labelsOf(p))).length,
      ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
      observedGeneration: rs.metadata.generation,
    });
  }

  // ---- daemonset controller ----

  function reconcileDaemonSet(ds: J, nodes: J[]): void {
    if (ds.metadata.deletionTimestamp) return;
    const template = ds.spec.template ?? {};
    const hash = templateHash(template);
    const withDefaults = {
      ...(template.spec ?? {}),
      tolerations: [...(template.spec?.tolerations ?? []), ...DS_TOLERATIONS],
    };
    const eligible = nodes.filter((n) => !unfit({ ...withDefaults, affinity: template.spec?.affinity }, n));
    const mine = store
      .list<J>(POD, { namespace: ds.metadata.namespace })
      .filter((p) => controllerOf(p)?.uid === ds.metadata.uid && !p.metadata.deletionTimestamp);
    const nodeOf = (p: J): string | undefined =>
      p.spec?.nodeName ??
      p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
        ?.matchFields?.[0]?.values?.[0];
    const live: J[] = [];
    for (const p of mine) {
      const n = nodeOf(p);
      if (!eligible.some((e) => e.metadata.name === n) || live.some((q) => nodeOf(q) === n))
        store.delete(POD, key(p));
      else live.push(p);
    }
    for (const n of eligible)
      if (!live.some((p) => nodeOf(p) === n.metadata.name))
        live.push(
          createPod(
            ds,
            'DaemonSet',
            {
              ...template,
              spec: { ...withDefaults, affinity: pinTo(n.metadata.name as string, template.spec?.affinity) },
            },
            {
              'controller-revision-hash': hash,
              'pod-template-generation': String(ds.metadata.generation ?? 1),
            },
          ),
        );
    // RollingUpdate with maxUnavailable 1: replace one outdated pod at a time, when all others are Ready.
    const outdated = live.filter((p) => labelsOf(p)['controller-revision-hash'] !== hash);
    if (
      outdated.length &&
      (ds.spec.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' &&
      live.every(podReady)
    )
      store.delete(POD, key(outdated[0]));

    const current = store
      .list<J>(POD, { namespace: ds.metadata.namespace })
      .filter((p) => controllerOf(p)?.uid === ds.metadata.uid && !p.metadata.deletionTimestamp);
    const ready = current.filter(podReady).length;
    const scheduled = new Set(current.map(nodeOf)).size;
    writeStatus(DS, ds, {
      currentNumberScheduled: scheduled,
      desiredNumberScheduled: eligible.length,
      numberMisscheduled: 0,
      numberReady: ready,
      ...(ready ? { numberAvailable: ready } : {}),
      ...(eligible.length - ready > 0 ? { numberUnavailable: eligible.length - ready } : {}),
      observedGeneration: ds.metadata.generation,
      updatedNumberScheduled: current.filter((p) => labelsOf(p)['controller-revision-hash'] === hash).length,
    });
  }

  // ---- metrics-server ----

  function metricsServerReady(): boolean {
    const d = store.get<J>(DEPLOY, { namespace: 'kube-system', name: 'metrics-server' });
    return !!d && (d.status?.availableReplicas ?? 0) >= 1;
  }

  function metricsServer(): void {
    if (metricsServerReady()) {
      if (!metricsTimer) scrape();
    } else if (metricsTimer) {
      clearTimeout(metricsTimer);
      metricsTimer = undefined;
      for (const m of store.list<J>(POD_METRICS))
        safely('drop metrics', () => store.delete(POD_METRICS, key(m)));
      for (const m of store.list<J>(NODE_METRICS))
        safely('drop metrics', () => store.delete(NODE_METRICS, { name: m.metadata.name }));
      scrapedOnce.clear();
    }
    // What makes metrics.k8s.io usable: kube-aggregator's Available condition on its APIService.
    for (const a of store.list<J>(APISERVICE))
      safely(`apiservice ${a.metadata.name}`, () => apiServiceAvailability(a));
  }

  // ---- kube-aggregator: the APIServices' Available condition ----

  /**
   * kube-aggregator's availability check (kubernetes/kube-aggregator v0.34.0,
   * pkg/controllers/status/local/local_available_controller.go and
   * remote/remote_available_controller.go sync), on each pass rather than on its informers and
   * 30 s resync. Reasons and messages are upstream's:
   * - no spec.service: True, Local;
   * - the Service missing: False, ServiceNotFound;
   * - a ClusterIP Service (the type defaults to it) without spec.service.port: False, ServicePortError;
   *   without a selector (so no EndpointSlices; the twin keeps none of its own): False,
   *   EndpointsNotFound; with no ready endpoint carrying that port's name: False, MissingEndpoints;
   * - then the discovery GET of /apis/<group>/<version> through the Service (kube-apiserver's
   *   default ClusterIP resolver, apiserver pkg/util/proxy ResolveCluster): in the twin only the
   *   metrics-server simulation answers it, for metrics.k8s.io/v1beta1 while Deployment
   *   kube-system/metrics-server is Available; anything else is False, FailedDiscoveryCheck, as a
   *   refused connection;
   * - else True, Passed, "all checks passed".
   * Endpoints are derived as the EndpointSlice controller would make them: Running pods of the
   * Service's namespace matching its selector, with an IP and not terminating, Ready, and (for a
   * named targetPort) a container port of that name.
   */
  function availability(a: J): { status: string; reason: string; message: string } {
    const ref = a.spec?.service;
    if (!ref) return { status: 'True', reason: 'Local', message: 'Local APIServices are always available' };
    const where = `service/${ref.name} in "${ref.namespace}"`;
    const fail = (reason: string, message: string) => ({ status: 'False', reason, message });
    const svc = store.get<J>(SERVICE, { namespace: ref.namespace, name: ref.name });
    if (!svc) return fail('ServiceNotFound', `${where} is not present`);
    const type = svc.spec?.type ?? 'ClusterIP';
    const port: number = ref.port ?? 443;
    if (type === 'ClusterIP') {
      const sp = (svc.spec?.ports ?? []).find((p: J) => p.port === port);
      if (!sp) return fail('ServicePortError', `${where} is not listening on port ${port}`);
      const selector: Record<string, string> = svc.spec?.selector ?? {};
      if (Object.keys(selector).length === 0)
        return fail('EndpointsNotFound', `cannot find endpointslices for ${where}`);
      const target = sp.targetPort ?? sp.port;
      const protocol = sp.protocol ?? 'TCP';
      const serving = store
        .list<J>(POD, { namespace: ref.namespace })
        .filter(
          (p) =>
            !p.metadata.deletionTimestamp &&
            p.status?.podIP &&
            p.status?.phase === 'Running' &&
            podReady(p) &&
            Object.entries(selector).every(([k, v]) => labelsOf(p)[k] === v) &&
            (typeof target === 'number' ||
              (p.spec?.containers ?? []).some((c: J) =>
                (c.ports ?? []).some((cp: J) => cp.name === target && (cp.protocol ?? 'TCP') === protocol),
              )),
        );
      if (!serving.length)
        return fail(
          'MissingEndpoints',
          `endpointslices for ${where} have no addresses with port name "${sp.name ?? ''}"`,
        );
    }
    const host = type === 'ExternalName' ? svc.spec?.externalName : svc.spec?.clusterIP;
    if (type === 'ClusterIP' && host === 'None')
      return fail('FailedDiscoveryCheck', 'cannot route to service with ClusterIP "None"');
    const url = `https://${host ?? ''}:${port}/apis/${a.spec?.group}/${a.spec?.version}`;
    const served =
      a.spec?.group === 'metrics.k8s.io' && a.spec?.version === 'v1beta1' && metricsServerReady();
    if (!served)
      return fail(
        'FailedDiscoveryCheck',
        `failing or missing response from ${url}: Get "${url}": dial tcp ${host ?? ''}:${port}: connect: connection refused`,
      );
    return { status: 'True', reason: 'Passed', message: 'all checks passed' };
  }

  /** Writes the Available condition when it changed (lastTransitionTime only when its status did). */
  function apiServiceAvailability(a: J): void {
    const c = availability(a);
    const old = (a.status?.conditions ?? []).find((x: J) => x.type === 'Available');
    if (old && old.status === c.status && old.reason === c.reason && old.message === c.message) return;
    store.mutate<J>(APISERVICE, { name: a.metadata.name }, (d) => {
      d.status ??= {};
      d.status.conditions ??= [];
      const list: J[] = d.status.conditions;
      const next = {
        type: 'Available',
        status: c.status,
        lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now(),
        reason: c.reason,
        message: c.message,
      };
      const i = list.findIndex((x) => x.type === 'Available');
      if (i >= 0) list[i] = next;
      else list.push(next);
    });
  }

  function usageOf(p: J, container: string): ContainerUsage {
    const labels = labelsOf(p);
    for (const [sel, u] of Object.entries(opts.usage ?? {})) {
      const [k = '', v = ''] = sel.split('=');
      if (labels[k] === v) return u;
    }
    const h = fnv32a(`${p.metadata.namespace}/${p.metadata.name}/${container}`);
    return { cpuNanocores: 1_000_000 + (h % 4_000_000), memoryKi: 8_000 + (h % 40_000) };
  }

  function scrape(): void {
    // Not counted by idle(): it runs for as long as metrics-server does.
    metricsTimer = setTimeout(() => {
      metricsTimer = undefined;
      if (!stopped && metricsServerReady()) scrape();
    }, resolution);
    const ts = now();
    const window = `${(resolution / 1000).toFixed(3)}s`;
    const running = store
      .list<J>(POD)
      .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    const serve = new Set<string>();
    const perNode = new Map<string, { cpu: number; mem: number }>();
    for (const p of running) {
      const k = p.metadata.uid as string;
      if (!scrapedOnce.has(k)) {
        scrapedOnce.add(k);
        continue;
      }
      serve.add(keyOf(p));
      const containers = (p.spec.containers ?? []).map((c: J) => {
        const u = usageOf(p, c.name as string);
        const agg = perNode.get(p.spec.nodeName as string) ?? { cpu: 0, mem: 0 };
        agg.cpu += u.cpuNanocores;
        agg.mem += u.memoryKi;
        perNode.set(p.spec.nodeName as string, agg);
        return { name: c.name, usage: { cpu: `${u.cpuNanocores}n`, memory: `${u.memoryKi}Ki` } };
      });
      const m = {
        metadata: { name: p.metadata.name, namespace: p.metadata.namespace, labels: labelsOf(p) },
        timestamp: ts,
        window,
        containers,
      };
      safely(`metrics ${keyOf(p)}`, () => upsert(POD_METRICS, m));
    }
    for (const m of store.list<J>(POD_METRICS))
      if (!serve.has(keyOf(m))) safely('drop metrics', () => store.delete(POD_METRICS, key(m)));
    for (const n of store.list<J>(NODE)) {
      const agg = perNode.get(n.metadata.name as string) ?? { cpu: 0, mem: 0 };
      const base = fnv32a(`node/${n.metadata.name}`);
      safely(`node metrics ${n.metadata.name}`, () =>
        upsert(NODE_METRICS, {
          metadata: { name: n.metadata.name, labels: labelsOf(n) },
          timestamp: ts,
          window,
          usage: {
            cpu: `${50_000_000 + (base % 100_000_000) + agg.cpu}n`,
            memory: `${600_000 + (base % 200_000) + agg.mem}Ki`,
          },
        }),
      );
    }
    for (const k of [...scrapedOnce]) if (!running.some((p) => p.metadata.uid === k)) scrapedOnce.delete(k);
  }

  function upsert(ref: { group: string; resource: string }, o: J): void {
    const old = store.get<J>(ref, key(o));
    if (!old) store.create(ref, o);
    else store.update(ref, { ...old, ...o, metadata: { ...old.metadata, ...o.metadata } });
  }

  // ---- shared writes ----

  function createPod(owner: J, kind: string, template: J, extraLabels: Record<string, string>): J {
    return store.create<J>(POD, {
      metadata: {
        generateName: `${owner.metadata.name}-`,
        namespace: owner.metadata.namespace,
        labels: { ...(template.metadata?.labels ?? {}), ...extraLabels },
        ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
        ownerReferences: [ownerRef(owner, 'apps/v1', kind)],
      },
      spec: structuredClone(template.spec ?? {}),
    });
  }

  function writeStatus(ref: { group: string; resource: string }, o: J, status: J): void {
    store.mutate<J>(ref, key(o), (d) => {
      d.status = status;
    });
  }

  return {
    async stop() {
      stopped = true;
      unwatch();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      if (metricsTimer) clearTimeout(metricsTimer);
      metricsTimer = undefined;
      passTimer = undefined;
      await Promise.resolve();
    },
    async idle() {
      for (let quiet = 0; quiet < 2;) {
        await store.idle();
        if (timers.size) {
          quiet = 0;
          await new Promise((r) => setTimeout(r, 2));
        } else quiet++;
      }
    },
  };
}

/** The tolerations the DaemonSet controller adds to its pods (pkg/controller/daemon/util). */
const DS_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

/** The DaemonSet controller's node affinity for one node (ReplaceDaemonSetPodNodeNameNodeAffinity). */
function pinTo(node: string, affinity: J): J {
  return {
    ...(affinity ?? {}),
    nodeAffinity: {
      ...(affinity?.nodeAffinity ?? {}),
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  };
}

function key(o: J): { namespace?: string; name: string } {
  return { namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' };
}

function ownerRef(o: J, apiVersion: string, kind: string): J {
  return {
    apiVersion,
    kind,
    name: o.metadata.name,
    uid: o.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function podReady(p: J): boolean {
  return (p.status?.conditions ?? []).some((c: J) => c.type === 'Ready' && c.status === 'True');
}

/** Sets a condition, keeping lastTransitionTime while the status stays (and lastUpdateTime for workloads). */
function setCondition(status: J, c: J, at: string, withUpdateTime = false): void {
  status.conditions ??= [];
  const list: J[] = status.conditions;
  const i = list.findIndex((x) => x.type === c.type);
  const old = i >= 0 ? list[i] : undefined;
  const same = old && old.status === c.status;
  const sameAll = same && old.reason === c.reason && old.message === c.message;
  const next: J = {
    type: c.type,
    status: c.status,
    ...(withUpdateTime ? { lastUpdateTime: sameAll ? old.lastUpdateTime : at } : { lastProbeTime: null }),
    lastTransitionTime: same ? old.lastTransitionTime : at,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
}
