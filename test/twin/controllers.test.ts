import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podMetrics } from '../../harness/budget/collect.ts';
import { makeClients, type KubeClients } from '../../harness/kube/client.ts';
import {
  isDaemonSetRolledOut,
  isDeploymentAvailable,
  isNodeReady,
  isPodReady,
  judgePodsReady,
  podImpossible,
} from '../../harness/kube/health.ts';
import { waitApiServiceAvailable, waitNodesReady } from '../../harness/kube/ops.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/timeouts.ts';
import { pollUntil } from '../../harness/wait.ts';
import { startTwinApiServer, type TwinApiServer } from './apiserver.ts';
import { startControllers, type Controllers } from './controllers.ts';
import { AMBIENT_REDIRECTION } from './dataplane.ts';

/**
 * The controllers through the real client-node (makeClients on the twin's kubeconfig) and the
 * harness's own judgements of readiness, as a conformance run would see them.
 */

let twin: TwinApiServer;
let ctl: Controllers;
let kube: KubeClients;
const timeouts = { ...DEFAULT_TIMEOUTS, pollInterval: 10, nodesReady: 5_000 };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

beforeAll(async () => {
  twin = await startTwinApiServer({ gcDelayMs: 5, namespaceDeletionDelayMs: 20 });
  ctl = startControllers(twin.store, {
    clusterName: 'amb',
    podStartDelayMs: 20,
    metricResolutionMs: 30,
    failingImages: { 'nope.example/missing:1': 'ImagePullBackOff', 'Bad Image!': 'InvalidImageName' },
    usage: { 'app=heavy': { cpuNanocores: 250_000_000, memoryKi: 131_072 } },
  });
  const kc = twin.kubeconfig(path.join(mkdtempSync(path.join(os.tmpdir(), 'twin-ctl-')), 'kubeconfig'));
  kube = makeClients(kc, 'twin', { userAgent: 'ambient-conformance (TWIN-CTL)' });
});
afterAll(async () => {
  await ctl.stop();
  await twin.close();
});

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  return pollUntil({
    what,
    timeoutMs: 5_000,
    intervalMs: 10,
    read,
    judge: (v) => ({ done: done(v), seen: JSON.stringify(v).slice(0, 400) }),
  });
}

const podsOf = async (namespace: string, labelSelector?: string) =>
  (await kube.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) })).items;

async function namespace(name: string, labels: Record<string, string> = {}) {
  await kube.core.createNamespace({ body: { metadata: { name, labels } } });
}

function deployment(
  name: string,
  replicas: number,
  labels: Record<string, string> = { app: name },
): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'web', image: 'nginx:1.27@sha256:' + 'ab'.repeat(32) }] },
      },
    },
  };
}

const inCidr = (ip: string | undefined, prefix: string) => (ip ?? '').startsWith(prefix);

describe('nodes', () => {
  it('registers a Ready 3-node kind cluster, as waitNodesReady judges it', async () => {
    await waitNodesReady(kube, timeouts);
    const nodes = (await kube.core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name)).toEqual(['amb-control-plane', 'amb-worker', 'amb-worker2']);
    expect(nodes.every(isNodeReady)).toBe(true);
    const [cp, w1, w2] = nodes;
    expect(cp?.metadata?.labels).toHaveProperty('node-role.kubernetes.io/control-plane', '');
    expect(cp?.spec?.taints).toEqual([
      { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
    ]);
    expect(w1?.spec?.taints).toBeUndefined();
    expect(nodes.map((n) => n.spec?.podCIDR)).toEqual(['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']);
    expect(w2?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address).toBe('172.18.0.4');
    expect(w1?.status?.nodeInfo?.kubeletVersion).toBe('v1.34.0');
    expect(w1?.metadata?.labels?.['kubernetes.io/hostname']).toBe('amb-worker');
  });
});

describe('deployments', () => {
  it('become Available with Running, Ready pods on the workers, IPs from their podCIDRs', async () => {
    await namespace('web');
    await kube.apps.createNamespacedDeployment({ namespace: 'web', body: deployment('shop', 2) });
    const d = await until(
      'shop available',
      () => kube.apps.readNamespacedDeployment({ namespace: 'web', name: 'shop' }),
      isDeploymentAvailable,
    );
    expect(d.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
    });
    expect(d.status?.observedGeneration).toBe(d.metadata?.generation);

    const rs = (await kube.apps.listNamespacedReplicaSet({ namespace: 'web' })).items;
    expect(rs).toHaveLength(1);
    const hash = rs[0]?.metadata?.labels?.['pod-template-hash'] ?? '';
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    expect(rs[0]?.metadata?.name).toBe(`shop-${hash}`);
    expect(rs[0]?.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Deployment',
      name: 'shop',
      controller: true,
    });

    const pods = await podsOf('web');
    expect(judgePodsReady(pods, 2).done).toBe(true);
    expect(new Set(pods.map((p) => p.spec?.nodeName))).toEqual(new Set(['amb-worker', 'amb-worker2']));
    for (const p of pods) {
      expect(p.metadata?.name).toMatch(new RegExp(`^shop-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', controller: true });
      expect(p.status?.phase).toBe('Running');
      const worker2 = p.spec?.nodeName === 'amb-worker2';
      expect(inCidr(p.status?.podIP, worker2 ? '10.244.2.' : '10.244.1.')).toBe(true);
      expect(p.status?.podIPs).toEqual([{ ip: p.status?.podIP }]);
      expect(p.status?.hostIP).toBe(worker2 ? '172.18.0.4' : '172.18.0.3');
      expect(p.status?.startTime).toBeInstanceOf(Date);
      const types = (p.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type);
      expect(types).toEqual(
        expect.arrayContaining(['Initialized', 'ContainersReady', 'Ready', 'PodScheduled']),
      );
      const cs = p.status?.containerStatuses?.[0];
      expect(cs).toMatchObject({ name: 'web', ready: true, restartCount: 0, started: true });
      expect(cs?.state?.running?.startedAt).toBeInstanceOf(Date);
      expect(cs?.imageID).toBe(`docker.io/library/nginx@sha256:${'ab'.repeat(32)}`);
    }
  });

  it('scales through the scale subresource and through spec.replicas', async () => {
    await kube.apps.replaceNamespacedDeploymentScale({
      namespace: 'web',
      name: 'shop',
      body: { metadata: { name: 'shop', namespace: 'web' }, spec: { replicas: 4 } },
    });
    await until(
      '4 ready pods',
      () => podsOf('web'),
      (ps) => judgePodsReady(ps, 4).done,
    );
    const d = await until(
      'shop at 4',
      () => kube.apps.readNamespacedDeployment({ namespace: 'web', name: 'shop' }),
      (x) => isDeploymentAvailable(x) && x.status?.replicas === 4,
    );
    expect(d.status?.readyReplicas).toBe(4);

    await kube.apps.patchNamespacedDeployment(
      { namespace: 'web', name: 'shop', body: { spec: { replicas: 1 } } },
      merge,
    );
    await until(
      '1 pod',
      () => podsOf('web'),
      (ps) => judgePodsReady(ps, 1).done,
    );
    const scaled = await until(
      'shop at 1',
      () => kube.apps.readNamespacedDeployment({ namespace: 'web', name: 'shop' }),
      (x) => x.status?.replicas === 1,
    );
    expect(scaled.status).toMatchObject({ availableReplicas: 1, updatedReplicas: 1 });
  });

  it('replaces the pods on a rollout restart, with a second ReplicaSet', async () => {
    const before = (await podsOf('web')).map((p) => p.metadata?.name);
    await kube.apps.patchNamespacedDeployment(
      {
        namespace: 'web',
        name: 'shop',
        body: {
          spec: {
            template: {
              metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' } },
            },
          },
        },
      },
      merge,
    );
    const after = await until(
      'restarted pods',
      () => podsOf('web'),
      (ps) => judgePodsReady(ps, 1).done && !before.includes(ps[0]?.metadata?.name),
    );
    expect(after[0]?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(
      '2026-01-01T00:00:00Z',
    );
    const rs = (await kube.apps.listNamespacedReplicaSet({ namespace: 'web' })).items;
    expect(rs.map((r) => r.spec?.replicas).sort()).toEqual([0, 1]);
    expect(rs.map((r) => r.metadata?.annotations?.['deployment.kubernetes.io/revision']).sort()).toEqual([
      '1',
      '2',
    ]);
    await until(
      'shop rolled out',
      () => kube.apps.readNamespacedDeployment({ namespace: 'web', name: 'shop' }),
      (x) => isDeploymentAvailable(x) && x.status?.replicas === 1,
    );

    // The controllers converge: with nothing left to do, nothing more is written.
    await ctl.idle();
    const rv = twin.store.resourceVersion;
    await new Promise((r) => setTimeout(r, 60));
    expect(twin.store.resourceVersion).toBe(rv);
  });
  it('deletes the ReplicaSets and pods with the Deployment (garbage collection)', async () => {
    await kube.apps.deleteNamespacedDeployment({ namespace: 'web', name: 'shop' });
    await until(
      'web empty',
      async () => [
        ...(await podsOf('web')),
        ...(await kube.apps.listNamespacedReplicaSet({ namespace: 'web' })).items,
      ],
      (xs) => xs.length === 0,
    );
  });
});

describe('daemonsets', () => {
  const ds = (name: string, tolerateCp: boolean, labels: Record<string, string>) => ({
    metadata: { name },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: 'agent', image: 'busybox:1.36' }],
          ...(tolerateCp
            ? {
                tolerations: [
                  { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
                ],
              }
            : {}),
        },
      },
    },
  });

  it('runs one pod per node when the control-plane taint is tolerated, else on the workers', async () => {
    await namespace('agents');
    await kube.apps.createNamespacedDaemonSet({
      namespace: 'agents',
      body: ds('everywhere', true, { a: 'all' }),
    });
    await kube.apps.createNamespacedDaemonSet({
      namespace: 'agents',
      body: ds('workers', false, { a: 'w' }),
    });
    const all = await until(
      'everywhere rolled out',
      () => kube.apps.readNamespacedDaemonSet({ namespace: 'agents', name: 'everywhere' }),
      isDaemonSetRolledOut,
    );
    expect(all.status).toMatchObject({
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 3,
      numberAvailable: 3,
      updatedNumberScheduled: 3,
    });
    const w = await until(
      'workers rolled out',
      () => kube.apps.readNamespacedDaemonSet({ namespace: 'agents', name: 'workers' }),
      isDaemonSetRolledOut,
    );
    expect(w.status?.desiredNumberScheduled).toBe(2);
    const pods = await podsOf('agents', 'a=all');
    expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual([
      'amb-control-plane',
      'amb-worker',
      'amb-worker2',
    ]);
    expect(pods.every(isPodReady)).toBe(true);
    const cp = pods.find((p) => p.spec?.nodeName === 'amb-control-plane');
    expect(inCidr(cp?.status?.podIP, '10.244.0.')).toBe(true);
    expect(cp?.metadata?.labels?.['controller-revision-hash']).toBeTruthy();
    expect(cp?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', name: 'everywhere' });
  });
});

describe('pods', () => {
  it('leaves an unpullable image waiting; the harness calls only InvalidImageName impossible', async () => {
    await namespace('broken');
    const pod = (name: string, image: string): V1Pod => ({
      metadata: { name },
      spec: { containers: [{ name: 'c', image }] },
    });
    await kube.core.createNamespacedPod({ namespace: 'broken', body: pod('pull', 'nope.example/missing:1') });
    await kube.core.createNamespacedPod({ namespace: 'broken', body: pod('name', 'Bad Image!') });
    const pods = await until(
      'waiting reasons',
      () => podsOf('broken'),
      (ps) => ps.length === 2 && ps.every((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason),
    );
    const pull = pods.find((p) => p.metadata?.name === 'pull');
    expect(pull?.status?.phase).toBe('Pending');
    expect(pull?.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ImagePullBackOff');
    expect(isPodReady(pull!)).toBe(false);
    // harness/kube/health.ts podImpossible does not count ImagePullBackOff (it may be transient).
    expect(podImpossible(pull!)).toBeUndefined();
    const bad = pods.find((p) => p.metadata?.name === 'name');
    expect(podImpossible(bad!)).toMatch(/InvalidImageName/);
    expect(judgePodsReady(pods).impossible).toMatch(/InvalidImageName/);
  });

  it('gives host-network pods the node IP, and respects spec.nodeName and nodeSelector', async () => {
    await kube.core.createNamespacedPod({
      namespace: 'broken',
      body: {
        metadata: { name: 'host' },
        spec: { hostNetwork: true, nodeName: 'amb-worker2', containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    await kube.core.createNamespacedPod({
      namespace: 'broken',
      body: {
        metadata: { name: 'picky' },
        spec: {
          nodeSelector: { 'kubernetes.io/hostname': 'amb-worker' },
          containers: [{ name: 'c', image: 'busybox' }],
        },
      },
    });
    await kube.core.createNamespacedPod({
      namespace: 'broken',
      body: {
        metadata: { name: 'nowhere' },
        spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    const ready = await until(
      'host and picky ready',
      () => podsOf('broken'),
      (ps) => ['host', 'picky'].every((n) => ps.some((p) => p.metadata?.name === n && isPodReady(p))),
    );
    const host = ready.find((p) => p.metadata?.name === 'host');
    expect(host?.status?.podIP).toBe('172.18.0.4');
    expect(ready.find((p) => p.metadata?.name === 'picky')?.spec?.nodeName).toBe('amb-worker');
    const nowhere = ready.find((p) => p.metadata?.name === 'nowhere');
    expect(nowhere?.spec?.nodeName).toBeUndefined();
    expect(nowhere?.status?.conditions?.[0]).toMatchObject({
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
    });
  });
});

describe('istio-cni', () => {
  const enrolled = (p: V1Pod) => p.metadata?.annotations?.[AMBIENT_REDIRECTION] === 'enabled';

  it('enrolls qualifying pods only once its DaemonSet is Ready, and takes them out when they stop qualifying', async () => {
    await namespace('mesh', { 'istio.io/dataplane-mode': 'ambient' });
    await namespace('plain');
    await kube.core.createNamespacedPod({
      namespace: 'mesh',
      body: { metadata: { name: 'app' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    await kube.core.createNamespacedPod({
      namespace: 'plain',
      body: { metadata: { name: 'app' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    await until(
      'apps ready',
      async () => [...(await podsOf('mesh')), ...(await podsOf('plain'))],
      (ps) => ps.length === 2 && ps.every(isPodReady),
    );
    await ctl.idle();
    expect((await podsOf('mesh')).some(enrolled)).toBe(false); // no istio-cni yet

    await namespace('istio-system');
    const labels = { 'k8s-app': 'istio-cni-node' };
    await kube.apps.createNamespacedDaemonSet({
      namespace: 'istio-system',
      body: {
        metadata: { name: 'istio-cni-node' },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              tolerations: [{ operator: 'Exists' }],
              containers: [{ name: 'install-cni', image: 'docker.io/istio/install-cni:1.28.3-distroless' }],
            },
          },
        },
      },
    });
    const [meshApp] = await until(
      'mesh/app enrolled',
      () => podsOf('mesh'),
      (ps) => ps.every(enrolled),
    );
    expect(meshApp?.metadata?.annotations?.[AMBIENT_REDIRECTION]).toBe('enabled');
    expect((await podsOf('plain')).some(enrolled)).toBe(false);
    expect((await podsOf('istio-system')).some(enrolled)).toBe(false);

    // A new pod in the ambient namespace is enrolled before it is Ready.
    await kube.core.createNamespacedPod({
      namespace: 'mesh',
      body: { metadata: { name: 'late' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    });
    const late = await until(
      'late ready',
      () => kube.core.readNamespacedPod({ namespace: 'mesh', name: 'late' }),
      isPodReady,
    );
    expect(enrolled(late)).toBe(true);

    // The pod opts out, then the namespace stops being ambient.
    await kube.core.patchNamespacedPod(
      {
        namespace: 'mesh',
        name: 'app',
        body: { metadata: { labels: { 'istio.io/dataplane-mode': 'none' } } },
      },
      merge,
    );
    await until(
      'mesh/app out',
      () => kube.core.readNamespacedPod({ namespace: 'mesh', name: 'app' }),
      (p) => !enrolled(p),
    );
    await kube.core.patchNamespace(
      { name: 'mesh', body: { metadata: { labels: { 'istio.io/dataplane-mode': null } } } },
      merge,
    );
    await until(
      'mesh/late out',
      () => kube.core.readNamespacedPod({ namespace: 'mesh', name: 'late' }),
      (p) => !enrolled(p),
    );
  });
});

describe('metrics-server', () => {
  it('serves PodMetrics for running pods once its Deployment is Ready', async () => {
    await namespace('load');
    await kube.apps.createNamespacedDeployment({
      namespace: 'load',
      body: deployment('heavy', 2, { app: 'heavy' }),
    });
    await kube.apps.createNamespacedDeployment({ namespace: 'load', body: deployment('light', 1) });
    await until(
      'load ready',
      () => podsOf('load'),
      (ps) => judgePodsReady(ps, 3).done,
    );
    await ctl.idle();
    expect(await podMetrics(kube, 'load')).toEqual([]); // no metrics-server yet

    await kube.apps.createNamespacedDeployment({
      namespace: 'kube-system',
      body: deployment('metrics-server', 1, { 'k8s-app': 'metrics-server' }),
    });
    const metrics = await until(
      'PodMetrics for load',
      () => podMetrics(kube, 'load'),
      (ms) => ms.length === 3,
    );
    const heavy = metrics.filter((m) => m.metadata.name.startsWith('heavy-'));
    expect(heavy).toHaveLength(2);
    for (const m of heavy)
      expect(m.containers).toEqual([{ name: 'web', usage: { cpu: '250000000n', memory: '131072Ki' } }]);
    const light = metrics.find((m) => m.metadata.name.startsWith('light-'));
    expect(light?.containers[0]?.usage.cpu).toMatch(/^\d+n$/);
    expect(light?.containers[0]?.usage.memory).toMatch(/^\d+Ki$/);
    const again = await until(
      'a later scrape',
      () => podMetrics(kube, 'load'),
      (ms) => ms.length === 3 && ms.every((m) => metrics.every((o) => o.timestamp !== m.timestamp)),
    );
    expect(again.find((m) => m.metadata.name === light?.metadata.name)?.containers).toEqual(
      light?.containers,
    );

    const nodes = (await kube.custom.listClusterCustomObject({
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      plural: 'nodes',
    })) as { items: { metadata: { name: string }; usage: { cpu: string; memory: string } }[] };
    expect(nodes.items.map((n) => n.metadata.name)).toEqual([
      'amb-control-plane',
      'amb-worker',
      'amb-worker2',
    ]);
  });

  it('APIService v1beta1.metrics.k8s.io: Available as kube-aggregator judges it, as the harness waits for it', async () => {
    const name = 'v1beta1.metrics.k8s.io';
    const available = async () =>
      (await kube.apireg.readAPIService({ name })).status?.conditions?.find((c) => c.type === 'Available');
    const reason = (want: string) => until(want, available, (c) => c?.reason === want);
    const harnessWait = (ms: number) =>
      waitApiServiceAvailable(kube, name, { ...timeouts, metricsAvailable: ms });
    const sees = (text: string) =>
      expect.objectContaining({ details: expect.objectContaining({ seen: expect.stringContaining(text) }) });

    // As the chart renders it (test/twin/inventory/metrics-server-3.13.1.json).
    await kube.apireg.createAPIService({
      body: {
        metadata: { name },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          insecureSkipTLSVerify: true,
          service: { name: 'metrics-server', namespace: 'kube-system', port: 443 },
        },
      },
    });
    expect(await reason('ServiceNotFound')).toMatchObject({
      status: 'False',
      message: 'service/metrics-server in "kube-system" is not present',
    });
    await expect(harnessWait(100)).rejects.toEqual(
      sees('Available=False ServiceNotFound service/metrics-server in "kube-system" is not present'),
    );

    await kube.core.createNamespacedService({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'metrics-server' },
        spec: {
          type: 'ClusterIP',
          selector: { 'k8s-app': 'metrics-server' },
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'https' }],
        },
      },
    });
    // metrics-server's pods (from the test above) are Ready, but declare no port named https.
    const missing = await reason('MissingEndpoints');
    expect(missing).toMatchObject({
      status: 'False',
      message:
        'endpointslices for service/metrics-server in "kube-system" have no addresses with port name "https"',
    });

    await kube.apps.patchNamespacedDeployment(
      {
        namespace: 'kube-system',
        name: 'metrics-server',
        body: {
          spec: {
            template: {
              spec: {
                containers: [
                  { name: 'web', ports: [{ name: 'https', containerPort: 10250, protocol: 'TCP' }] },
                ],
              },
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await harnessWait(5_000);
    const passed = await available();
    expect(passed).toMatchObject({ status: 'True', reason: 'Passed', message: 'all checks passed' });
    expect(passed?.lastTransitionTime).toBeInstanceOf(Date);

    // Another group behind the same Service: nothing in the twin answers its discovery.
    await kube.apireg.createAPIService({
      body: {
        metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
        spec: {
          group: 'custom.metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          service: { name: 'metrics-server', namespace: 'kube-system', port: 443 },
        },
      },
    });
    const custom = await until(
      'FailedDiscoveryCheck',
      async () =>
        (await kube.apireg.readAPIService({ name: 'v1beta1.custom.metrics.k8s.io' })).status?.conditions,
      (cs) => cs?.[0]?.reason === 'FailedDiscoveryCheck',
    );
    expect(custom?.[0]?.message).toMatch(
      /^failing or missing response from https:\/\/.*:443\/apis\/custom\.metrics\.k8s\.io\/v1beta1: /,
    );
    // A local APIService (no service) is always available.
    await kube.apireg.createAPIService({
      body: {
        metadata: { name: 'v1.twin.example' },
        spec: { group: 'twin.example', version: 'v1', groupPriorityMinimum: 1, versionPriority: 1 },
      },
    });
    expect(
      await until(
        'Local',
        async () => (await kube.apireg.readAPIService({ name: 'v1.twin.example' })).status?.conditions?.[0],
        (c) => c?.reason === 'Local',
      ),
    ).toMatchObject({ status: 'True', message: 'Local APIServices are always available' });

    // No replicas: no endpoints, no metrics.
    await kube.apps.patchNamespacedDeployment(
      { namespace: 'kube-system', name: 'metrics-server', body: { spec: { replicas: 0 } } },
      merge,
    );
    expect(await reason('MissingEndpoints')).toMatchObject({ status: 'False' });
    await expect(harnessWait(100)).rejects.toEqual(sees('Available=False MissingEndpoints'));
  });
});
