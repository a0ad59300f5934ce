import {
  collectSamples,
  podMetrics,
  scaleDeployment,
  waitDeployment,
  waitForMetrics,
} from '../../harness/budget/collect.ts';
import {
  budgetTable,
  crossover,
  evaluateBudgets,
  linearFit,
  summarize,
  toSamples,
} from '../../harness/budget/measure.ts';
import { defineSuite, type ConformanceContext } from '../../harness/conformance/define.ts';
import { eligibleNodes } from '../../harness/kube/health.ts';
import { ISTIO_OBJECTS, listPods } from '../../harness/kube/ops.ts';
import { createPods, execBatchRunner } from '../../harness/netpol/matrix-case.ts';
import { converge, type PlannedProbe } from '../../harness/probe/engine.ts';
import { formatBytes } from '../../harness/quantity.ts';
import { pollUntil } from '../../harness/wait.ts';
import { CLIENT_CONTAINER, pauseDeployment } from '../../harness/workloads.ts';

/** Resource budgets, measured with metrics.k8s.io: the mesh costs per node, not per pod. */

/** ztunnel memory over all nodes: each instance's median over a few scrapes, summed. */
async function ztunnelMemory(ctx: ConformanceContext): Promise<number> {
  const samples = await collectSamples(ctx, ctx.facts.istioNamespace, ctx.timeouts.memoryWindow);
  return summarize(samples).get('ztunnel')?.memoryTotal ?? 0;
}

export const budgetTests = defineSuite('budget', [
  {
    id: 'BUDGET-01',
    claim:
      'istiod, istio-cni-node and ztunnel each stay within their per-instance budget under probe traffic',
    source: 'runbook "Resource Usage" and "Current measurements"',
    needs: ['cluster', 'metricsApi'],
    timeout: 'budgetWindow',
    async body(ctx) {
      const { expect, facts, profile, scope } = ctx;
      const ns = {
        x: await scope.namespace({ ambient: true, prefix: 'budget-01-x' }),
        y: await scope.namespace({ ambient: true, prefix: 'budget-01-y' }),
      };
      const servers = [
        ...(await createPods(
          ctx,
          ns,
          { x: true, y: true },
          [
            { ns: 'y', name: 'a' },
            { ns: 'y', name: 'b' },
          ],
          'server',
        )),
      ];
      const clients = [
        ...(await createPods(
          ctx,
          ns,
          { x: true, y: true },
          [
            { ns: 'x', name: 'a' },
            { ns: 'x', name: 'b' },
          ],
          'client',
        )),
      ];
      const probes: PlannedProbe[] = clients.flatMap(([, c], i) =>
        servers.map(([sref, s], j) => ({
          id: `t${i}${j}`,
          client: { namespace: ns.x, pod: c.metadata?.name ?? '', container: CLIENT_CONTAINER },
          to: sref,
          ip: s.status?.podIP ?? '',
          port: 80,
          expected: 'connected' as const,
        })),
      );
      await waitForMetrics(ctx, facts.istioNamespace);
      const traffic = async () =>
        void (await converge(probes, execBatchRunner(ctx.kube, ctx.timeouts.exec), {
          timeoutMs: ctx.timeouts.exec,
          successes: 1,
        }));
      const samples = await collectSamples(ctx, facts.istioNamespace, ctx.timeouts.budgetWindow, traffic);
      const rows = evaluateBudgets(summarize(samples), profile.doc.budgets);
      scope.attach('budget.md', budgetTable(rows));
      scope.attach('samples.json', JSON.stringify(samples, null, 2));
      for (const r of rows) if (r.docNote) scope.log(r.docNote);
      expect(rows.flatMap((r) => r.problems)).toEqual([]);
    },
  },
  {
    id: 'BUDGET-02',
    claim:
      'meshed pods run exactly the containers their spec declares, with unchanged resource requests (no per-pod overhead)',
    needs: ['cluster'],
    async body(ctx) {
      const { expect, kube, facts, scope } = ctx;
      const ns = await scope.namespace({ ambient: true, prefix: 'budget-02' });
      const body = pauseDeployment({ name: 'plain', namespace: ns, runId: facts.runId, replicas: 1 }).spec
        ?.template;
      await kube.core.createNamespacedPod({
        namespace: ns,
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...body?.metadata, name: 'declared' },
          spec: body?.spec,
        },
      });
      const pod = await pollUntil({
        signal: kube.signal,
        what: `pod ${ns}/declared to be captured by istio-cni`,
        timeoutMs: ctx.timeouts.podReady,
        intervalMs: ctx.timeouts.pollInterval,
        read: () => kube.core.readNamespacedPod({ namespace: ns, name: 'declared' }),
        judge: (p) => ({
          done:
            p.metadata?.annotations?.['ambient.istio.io/redirection'] === 'enabled' &&
            p.status?.phase === 'Running',
          seen: `phase=${p.status?.phase ?? '?'} redirection=${p.metadata?.annotations?.['ambient.istio.io/redirection'] ?? '(absent)'}`,
        }),
      });
      expect({
        containers: pod.spec?.containers.map((c) => ({
          name: c.name,
          requests: c.resources?.requests,
          limits: c.resources?.limits,
        })),
        initContainers: pod.spec?.initContainers ?? [],
      }).toEqual({
        containers: [{ name: 'app', requests: { cpu: '1m', memory: '6Mi' }, limits: undefined }],
        initContainers: [],
      });
    },
  },
  {
    id: 'BUDGET-03',
    claim:
      'the mesh scales with nodes, not pods: from N to 5N meshed pods istio-system keeps 1 + 2 × nodes pods and ztunnel memory grows by at most the per-pod bound',
    source: 'runbook "Scales with nodes, not pods"',
    needs: ['cluster', 'metricsApi'],
    timeout: 'budgetWindow',
    async body(ctx) {
      const { expect, kube, facts, profile, scope } = ctx;
      const ns = await scope.namespace({ ambient: true, prefix: 'budget-03' });
      const n = Math.max(2, facts.nodes.length * 2);
      await kube.apps.createNamespacedDeployment({
        namespace: ns,
        body: pauseDeployment({ name: 'load', namespace: ns, runId: facts.runId, replicas: n }),
      });
      await waitDeployment(ctx, ns, 'load');
      await waitForMetrics(ctx, facts.istioNamespace);
      const istioPods = async () =>
        (await listPods(kube, facts.istioNamespace)).filter((p) => p.status?.phase === 'Running').length;
      const before = { pods: n, istio: await istioPods(), memory: await ztunnelMemory(ctx) };
      await scaleDeployment(ctx, ns, 'load', 5 * n);
      const after = { pods: 5 * n, istio: await istioPods(), memory: await ztunnelMemory(ctx) };
      const fit = linearFit([
        { x: before.pods, y: before.memory },
        { x: after.pods, y: after.memory },
      ]);
      scope.attach(
        'scaling.json',
        JSON.stringify(
          { before, after, slopeBytesPerPod: fit.slope, bound: profile.doc.budgets.ztunnelMemoryPerPod },
          null,
          2,
        ),
      );
      scope.log(
        `ztunnel memory ${formatBytes(before.memory)} at ${before.pods} pods -> ${formatBytes(after.memory)} at ${after.pods} pods: ${formatBytes(Math.max(0, fit.slope))} per pod`,
      );
      const nodeList = (await kube.core.listNode()).items;
      const perNode = async (name: string) =>
        eligibleNodes(
          await kube.apps.readNamespacedDaemonSet({ namespace: facts.istioNamespace, name }),
          nodeList,
        ).length;
      const expected =
        1 + (await perNode(ISTIO_OBJECTS.cni.name)) + (await perNode(ISTIO_OBJECTS.ztunnel.name));
      expect(
        [before.istio, after.istio],
        `istio-system pods (1 istiod + one istio-cni-node and one ztunnel per node they run on)`,
      ).toEqual([expected, expected]);
      expect(
        fit.slope,
        `ztunnel memory per added pod (${formatBytes(fit.slope)}) must stay under ${formatBytes(profile.doc.budgets.ztunnelMemoryPerPod)}`,
      ).toBeLessThanOrEqual(profile.doc.budgets.ztunnelMemoryPerPod);
    },
  },
  {
    id: 'BUDGET-04',
    claim:
      'from the measured numbers, ambient costs less memory than a sidecar mesh beyond a finite pod count (the runbook says about 5-6 pods)',
    source: 'runbook "Comparison with Linkerd"',
    needs: ['cluster', 'metricsApi'],
    async body(ctx) {
      const { expect, facts, profile, scope } = ctx;
      await waitForMetrics(ctx, facts.istioNamespace);
      const usage = summarize(toSamples(await podMetrics(ctx.kube, facts.istioNamespace)));
      const fixed = [...usage.values()].reduce((s, u) => s + u.memoryTotal, 0);
      const mesh = profile.doc.budgets.sidecarMesh;
      const range = (perPod: number) =>
        crossover({
          ambientFixedBytes: fixed,
          ambientPerPodBytes: perPod,
          sidecarPerPodBytes: mesh.perSidecarMemory,
          sidecarControlPlaneBytes: mesh.controlPlaneMemory,
        });
      const measured = range(0);
      const worst = range(profile.doc.budgets.ztunnelMemoryPerPod);
      const text = `ambient (istiod + ${facts.nodes.length} × (istio-cni-node + ztunnel)) uses ${formatBytes(fixed)}; a sidecar mesh uses ${formatBytes(mesh.controlPlaneMemory[0])}-${formatBytes(mesh.controlPlaneMemory[1])} + ${formatBytes(mesh.perSidecarMemory[0])}-${formatBytes(mesh.perSidecarMemory[1])} per pod. Crossover: ${measured.low}-${measured.high} pods (${worst.low}-${worst.high} with ${formatBytes(profile.doc.budgets.ztunnelMemoryPerPod)} of ztunnel memory per pod); the runbook says ~5-6.`;
      scope.attach('crossover.txt', text);
      scope.log(text);
      expect(Number.isFinite(worst.high), text).toBe(true);
    },
  },
]);
