import { createWithRetry } from '../../harness/kube/client.ts';
import { defineSuite, type ConformanceContext } from '../../harness/conformance/define.ts';
import { listPods } from '../../harness/kube/ops.ts';
import {
  applyNetworkPolicies,
  createPods,
  execBatchRunner,
  matrixFailure,
  runMatrixCase,
} from '../../harness/netpol/matrix-case.ts';
import {
  appPortsOnlyIngress,
  egressAppPortsOnly,
  hboneOnlyVersusAppPort,
  istioSystemOnlyIngress,
} from '../../harness/netpol/cases.ts';
import { denyAll, documentedPolicies, KUBELET_PROBE_SNAT_V4 } from '../../harness/netpol/policies.ts';
import { converge } from '../../harness/probe/engine.ts';
import { holdsFor, pollUntil } from '../../harness/wait.ts';
import { CLIENT_CONTAINER, dualPortServerPod, SERVER_PORTS } from '../../harness/workloads.ts';

/**
 * NetworkPolicy around ambient namespaces. Every case runs in namespaces of its own with fresh
 * pods, prints expected, observed and comparison matrices into the report, and fails on the
 * first cell that differs from the model. Meshed = labelled istio.io/dataplane-mode=ambient.
 */
const APP = [...SERVER_PORTS];
const MESHED = (key: string) => ({ key, meshed: true });
const PLAIN = (key: string) => ({ key, meshed: false });
const one = (ns: string) => ({ ns, name: 'a' });

/** The x (meshed) → y (meshed) cells, with z a plaintext control: what most cases probe. */
async function xyz(ctx: ConformanceContext, policies: Parameters<typeof runMatrixCase>[1]['policies']) {
  return runMatrixCase(ctx, {
    namespaces: [MESHED('x'), MESHED('y'), PLAIN('z')],
    servers: ['x', 'y', 'z'].map(one),
    clients: ['x', 'y', 'z'].map(one),
    policies,
  });
}

function cellOf(r: Awaited<ReturnType<typeof xyz>>, fromNs: string, toNs: string, port: number) {
  return r.observations.find(
    (o) =>
      o.probe.client.namespace === r.ns[fromNs] && o.probe.to === `${r.ns[toNs]}/a` && o.probe.port === port,
  );
}

export const netpolTests = defineSuite('netpol', [
  {
    id: 'NETPOL-08',
    claim:
      'the cluster enforces NetworkPolicy: a deny-all policy really blocks a connection that worked before it',
    source:
      'kind >= v0.24 enforces NetworkPolicy through kindnet (kube-network-policies), failing open on some kernels (kind#3705, #3789)',
    needs: ['cluster'],
    async body(ctx) {
      const { expect, scope } = ctx;
      const ns = {
        s: await scope.namespace({ prefix: 'netpol-08-srv' }),
        c: await scope.namespace({ prefix: 'netpol-08-cli' }),
      };
      const servers = await createPods(ctx, ns, {}, [{ ns: 's', name: 'a' }], 'server');
      const [sref, server] = [...servers][0] ?? [];
      const probeFrom = async (expected: 'connected' | 'timeout') => {
        const [, client] = [...(await createPods(ctx, ns, {}, [{ ns: 'c', name: 'a' }], 'client'))][0] ?? [];
        const p = {
          id: 'p0',
          client: { namespace: ns.c, pod: client?.metadata?.name ?? '', container: CLIENT_CONTAINER },
          to: sref ?? '',
          ip: server?.status?.podIP ?? '',
          port: 80,
          expected,
        };
        return (
          await converge([p], execBatchRunner(ctx.kube, ctx.timeouts.exec), {
            timeoutMs: ctx.timeouts.dataplaneConvergence,
            failures: 3,
          })
        )[0];
      };
      const before = await probeFrom('connected');
      expect(
        before?.settled,
        `positive control: ${before?.observed} (${before?.last.detail}); reproduce: ${before?.repro}`,
      ).toBe(true);
      await applyNetworkPolicies(ctx, [denyAll(ns.s, ctx.facts.runId, ['Ingress'])]);
      const after = await probeFrom('timeout');
      expect(
        after?.settled,
        `NetworkPolicy is NOT enforced by this cluster's CNI: a fresh client still ${after?.observed} after deny-all (${after?.history.join(',')}). Every other NETPOL result is meaningless here. On kind, kindnet fails open when nftables/NFQUEUE is unavailable (kind#3705, #3789); check the kindnet logs for "skipping network policies". Reproduce: ${after?.repro}`,
      ).toBe(true);
    },
  },
  {
    id: 'NETPOL-01',
    claim:
      'the documented policies (15008 and app ports from istio-system, callers and self; egress 15008 to callees) give exactly the intended matrix between the meshed namespaces, as the model predicts',
    source: 'runbook "NetworkPolicy Requirements" and "HBONE connection timeout"',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, profile } = ctx;
      const meshed = profile.doc.mesh.meshedNamespaces;
      const r = await runMatrixCase(ctx, {
        namespaces: [...meshed.map(MESHED), PLAIN('control')],
        servers: [...meshed, 'control'].map(one),
        clients: [...meshed, 'control'].map(one),
        policies: (ns) => {
          const calls = new Map(
            meshed.map((m) => [
              ns[m] ?? '',
              (profile.doc.mesh.intent.find((e) => e.from === m)?.to ?? []).map((t) => ns[t] ?? ''),
            ]),
          );
          return documentedPolicies({
            calls,
            istioNamespace: ctx.facts.istioNamespace,
            appPorts: APP,
            runId: ctx.facts.runId,
          });
        },
      });
      // The model's prediction is the intent: a meshed namespace reaches itself and the namespaces it calls, nothing else.
      const keyOf = new Map(Object.entries(r.ns).map(([k, v]) => [v, k]));
      const intended = r.cells.map((c) => {
        const from = keyOf.get(c.from.split('/')[0] ?? '') ?? '';
        const to = keyOf.get(c.to.split('/')[0] ?? '') ?? '';
        // A namespace reaches itself (the control namespace has no policy); meshed ones also the ones they call.
        const ok =
          from === to ||
          (from !== 'control' &&
            to !== 'control' &&
            (profile.doc.mesh.intent.find((e) => e.from === from)?.to ?? []).includes(to));
        return { cell: `${from}->${to}:${c.port}`, modelAllows: c.allowed, intended: ok };
      });
      expect(
        intended.filter((i) => i.modelAllows !== i.intended),
        'model vs intent',
      ).toEqual([]);
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
    },
  },
  {
    id: 'NETPOL-02',
    claim:
      'without 15008 in the destination’s ingress, meshed traffic is blocked and the source ztunnel logs "maybe a NetworkPolicy is blocking HBONE port 15008"',
    source: 'ztunnel src/proxy.rs MaybeHBONENetworkPolicyError; runbook "HBONE connection timeout"',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, kube, facts } = ctx;
      const r = await xyz(ctx, (ns) => appPortsOnlyIngress(ns, facts.runId));
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
      const blocked = cellOf(r, 'x', 'y', 80);
      expect(blocked?.observed).toBe('timeout');
      const node = r.clients.get(`${r.ns.x}/${blocked?.probe.client.pod ?? ''}`)?.node ?? '';
      const zt = (await listPods(kube, facts.istioNamespace, 'app=ztunnel')).find(
        (p) => p.spec?.nodeName === node,
      );
      const needle = 'maybe a NetworkPolicy is blocking HBONE port 15008';
      const logs = await pollUntil({
        signal: kube.signal,
        what: `ztunnel on ${node} to log "${needle}"`,
        timeoutMs: ctx.timeouts.dataplaneConvergence,
        intervalMs: ctx.timeouts.pollInterval,
        read: () =>
          kube.core.readNamespacedPodLog({
            namespace: facts.istioNamespace,
            name: zt?.metadata?.name ?? '',
            container: 'istio-proxy',
            sinceSeconds: 900,
          }),
        judge: (text) => ({
          done: text.includes(needle),
          seen: `${
            text
              .split('\n')
              .filter((l) => l.includes('error'))
              .slice(-3)
              .join('\n') || 'no error lines'
          }`,
        }),
      });
      ctx.scope.attach(
        'ztunnel-source.log',
        logs
          .split('\n')
          .filter((l) => l.includes(needle))
          .join('\n'),
      );
    },
  },
  {
    id: 'NETPOL-03',
    claim:
      'allowing 15008 only from istio-system blocks meshed clients: the transparent proxy keeps the source pod IP',
    source: 'runbook "Transparent proxy: Source IP is preserved"',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, facts } = ctx;
      const r = await xyz(ctx, (ns) => istioSystemOnlyIngress(ns, facts.runId, facts.istioNamespace));
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
      expect(cellOf(r, 'x', 'y', 80)?.observed).toBe('timeout');
    },
  },
  {
    id: 'NETPOL-04',
    claim: 'without egress 15008 on the source, meshed traffic is blocked even when the app port is allowed',
    source: 'istio.io "Ambient and Kubernetes NetworkPolicy": outbound HBONE leaves from the source pod',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, facts } = ctx;
      const r = await xyz(ctx, (ns) => egressAppPortsOnly(ns, facts.runId, facts.istioNamespace));
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
      expect(cellOf(r, 'x', 'y', 80)?.observed).toBe('timeout');
      expect(cellOf(r, 'x', 'z', 80)?.observed).toBe('connected'); // plaintext to a non-meshed server uses the app port
    },
  },
  {
    id: 'NETPOL-05',
    claim:
      'between meshed pods 15008 alone is enough (the app port is not needed), while a non-meshed client needs the app port',
    source: 'ztunnel ARCHITECTURE.md "Ports"',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, facts } = ctx;
      const r = await runMatrixCase(ctx, {
        namespaces: [MESHED('x'), MESHED('y'), PLAIN('z')],
        servers: [
          { ns: 'y', name: 'a' },
          { ns: 'y', name: 'b' },
        ],
        clients: [one('x'), one('z')],
        policies: (ns) => hboneOnlyVersusAppPort(ns, facts.runId),
      });
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
      const seen = (from: string, to: string, port: number) =>
        r.observations.find(
          (o) =>
            o.probe.client.namespace === r.ns[from] &&
            o.probe.to === `${r.ns.y}/${to}` &&
            o.probe.port === port,
        )?.observed;
      expect([seen('x', 'a', 80), seen('x', 'a', 81)]).toEqual(['connected', 'connected']);
      expect([seen('z', 'a', 80), seen('z', 'b', 80), seen('z', 'b', 81)]).toEqual([
        'timeout',
        'connected',
        'timeout',
      ]);
    },
  },
  {
    id: 'NETPOL-06',
    claim: 'servers see the client pod’s own IP, meshed or not',
    source: 'runbook "Istio ambient uses transparent proxy - source IPs are preserved"',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect } = ctx;
      const r = await xyz(ctx, undefined);
      expect(r.mismatches, matrixFailure(r)).toEqual([]);
      const wrong = r.observations
        .filter((o) => o.observed === 'connected')
        .filter(
          (o) =>
            o.last.clientIp !==
            (r.clients.get(`${o.probe.client.namespace}/${o.probe.client.pod}`)?.ip ?? '?'),
        )
        .map(
          (o) =>
            `${o.probe.client.namespace}/${o.probe.client.pod} (${o.probe.client.ip ?? '?'}) -> ${o.probe.to}:${o.probe.port}: server saw ${o.last.clientIp ?? '?'}`,
        );
      ctx.scope.attach(
        'source-ips.txt',
        r.observations
          .map(
            (o) =>
              `${o.probe.client.pod} ${o.probe.client.ip ?? ''} -> ${o.probe.to}:${o.probe.port} saw ${o.last.clientIp ?? '-'}`,
          )
          .join('\n'),
      );
      expect(wrong).toEqual([]);
    },
  },
  {
    id: 'NETPOL-07',
    claim:
      'under default-deny with only the documented allowances, kubelet probes (SNATed to 169.254.7.127) keep meshed pods Ready',
    source: 'istio.io "Ambient and Kubernetes NetworkPolicy" (kubelet health probes)',
    // On kindnet the claim would pass whatever the policies say (host traffic is never judged).
    needs: ['cluster', 'hostTrafficJudged'],
    timeout: 'podReady',
    async body(ctx) {
      const { expect, kube, facts, scope } = ctx;
      const ns = await scope.namespace({ ambient: true, prefix: 'netpol-07' });
      await applyNetworkPolicies(ctx, [
        denyAll(ns, facts.runId, ['Ingress', 'Egress']),
        ...documentedPolicies({
          calls: new Map([[ns, []]]),
          istioNamespace: facts.istioNamespace,
          appPorts: APP,
          runId: facts.runId,
        }),
      ]);
      const pod = dualPortServerPod({ name: 'probed', namespace: ns, runId: facts.runId });
      await createWithRetry(`create pod ${ns}/probed`, () =>
        kube.core.createNamespacedPod({ namespace: ns, body: pod }),
      );
      const fix = `allow the kubelet's SNATed probes: ingress from ipBlock ${KUBELET_PROBE_SNAT_V4} (IPv6 fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128); the runbook's policies lack it`;
      await pollUntil({
        signal: kube.signal,
        what: `pod ${ns}/probed to become Ready under default-deny`,
        timeoutMs: ctx.timeouts.podReady,
        intervalMs: ctx.timeouts.pollInterval,
        read: () => kube.core.readNamespacedPod({ namespace: ns, name: 'probed' }),
        judge: (p) => ({
          done: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
          seen: `phase=${p.status?.phase ?? '?'} conditions=${(p.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(',')}`,
        }),
        fix,
      });
      await holdsFor({
        signal: kube.signal,
        what: `pod ${ns}/probed staying Ready without restarts`,
        durationMs: ctx.timeouts.readyHold,
        intervalMs: ctx.timeouts.pollInterval,
        read: () => kube.core.readNamespacedPod({ namespace: ns, name: 'probed' }),
        judge: (p) => {
          const restarts = (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
          const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
          return { done: ready && restarts === 0, seen: `ready=${ready} restarts=${restarts}` };
        },
        fix,
      });
      expect(
        (await kube.core.readNamespacedPod({ namespace: ns, name: 'probed' })).metadata?.annotations?.[
          'ambient.istio.io/redirection'
        ],
      ).toBe('enabled');
    },
  },
]);
