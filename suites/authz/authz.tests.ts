import { defineSuite, type ConformanceContext } from '../../harness/conformance/define.ts';
import {
  execBatchRunner,
  matrixFailure,
  runMatrixCase,
  type IstioObject,
  type MatrixCaseResult,
} from '../../harness/netpol/matrix-case.ts';
import { converge } from '../../harness/probe/engine.ts';
import { AUTHZ_CASES } from '../../harness/netpol/istio-policies.ts';
import { pollUntil } from '../../harness/wait.ts';
import { connectionsBetween } from '../../harness/ztunnel/accesslog.ts';
import { accessLogOf, metricsOf, ztunnelByNode } from '../../harness/ztunnel/live.ts';
import { DENIED_SERIES, deniedConnections, sum } from '../../harness/ztunnel/metrics.ts';

/**
 * L4 AuthorizationPolicy, enforced by the destination ztunnel. Servers y/a (the policy's
 * target) and y/b (untouched); clients in x (service account probe-x), in w (probe-w), both meshed,
 * and in z (plaintext). The model predicts each cell: allow, or reset by the mesh.
 */
const NAMESPACES = [
  { key: 'x', meshed: true },
  { key: 'w', meshed: true },
  { key: 'y', meshed: true },
  { key: 'z', meshed: false },
];

async function authzCase(
  ctx: ConformanceContext,
  istio: (ns: Record<string, string>) => IstioObject[],
): Promise<MatrixCaseResult> {
  const r = await runMatrixCase(ctx, {
    namespaces: NAMESPACES,
    servers: [
      { ns: 'y', name: 'a' },
      { ns: 'y', name: 'b' },
    ],
    clients: [
      { ns: 'x', name: 'a' },
      { ns: 'w', name: 'a' },
      { ns: 'z', name: 'a' },
    ],
    istio,
    ports: [80],
  });
  ctx.expect(r.mismatches, matrixFailure(r)).toEqual([]);
  return r;
}

function seen(r: MatrixCaseResult, from: string, to: string) {
  return r.observations.find(
    (o) => o.probe.client.namespace === r.ns[from] && o.probe.to === `${r.ns.y}/${to}`,
  )?.observed;
}

export const authzTests = defineSuite('authz', [
  {
    id: 'AUTHZ-01',
    claim:
      'an ALLOW policy by principal admits only that service account; others are reset, and the denial shows in the destination ztunnel’s log (policy rejection) and metrics (response_flags="DENY")',
    source: 'istio.io ambient/usage/l4-policy; ztunnel src/proxy.rs',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, kube, facts, timeouts } = ctx;
      const r = await authzCase(ctx, AUTHZ_CASES.allowPrincipalX);
      expect([seen(r, 'x', 'a'), seen(r, 'w', 'a'), seen(r, 'z', 'a'), seen(r, 'w', 'b')]).toEqual([
        'connected',
        'reset',
        'reset',
        'connected',
      ]);
      const denied = r.observations.find(
        (o) => o.probe.client.namespace === r.ns.w && o.probe.to === `${r.ns.y}/a`,
      );
      const server = r.state.pods.find((p) => `${p.namespace}/${p.name}` === `${r.ns.y}/a`);
      const srcIp = r.clients.get(`${r.ns.w}/${denied?.probe.client.pod ?? ''}`)?.ip ?? '';
      const node =
        (await kube.core.readNamespacedPod({ namespace: r.ns.y ?? '', name: 'a' })).spec?.nodeName ?? '';
      const zt = (await ztunnelByNode(kube, facts.istioNamespace)).get(node) ?? '';
      const lines = await pollUntil({
        signal: kube.signal,
        what: `destination ztunnel ${zt} to log the policy rejection of ${srcIp}`,
        timeoutMs: timeouts.ztunnelProgrammed,
        intervalMs: timeouts.pollInterval,
        read: async () =>
          connectionsBetween(await accessLogOf(kube, facts.istioNamespace, zt, 900), srcIp, server?.ip ?? ''),
        judge: (l) => ({
          done: l.some((e) => (e.fields.error ?? '').includes('policy rejection')),
          seen: l.map((e) => e.fields.error ?? 'ok').join('; ') || 'no lines',
        }),
      });
      ctx.scope.attach('denial.log', JSON.stringify(lines, null, 2));
      const samples = await metricsOf(kube, facts.istioNamespace, zt, timeouts.exec);
      // ztunnel counts a connection as opened (response_flags "-") before it judges it; the denial
      // is recorded when it closes (src/proxy/metrics.rs ConnectionResult, src/proxy/inbound.rs).
      expect(sum(deniedConnections(samples, r.ns.y ?? '')), DENIED_SERIES).toBeGreaterThan(0);
    },
  },
  {
    id: 'AUTHZ-02',
    claim: 'an ALLOW policy by source namespace admits that namespace’s meshed workloads only',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const r = await authzCase(ctx, AUTHZ_CASES.allowNamespaceW);
      ctx
        .expect([seen(r, 'x', 'a'), seen(r, 'w', 'a'), seen(r, 'z', 'a')])
        .toEqual(['reset', 'connected', 'reset']);
    },
  },
  {
    id: 'AUTHZ-03',
    claim: 'a DENY policy wins over an ALLOW policy',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const r = await authzCase(ctx, AUTHZ_CASES.denyWinsOverAllow);
      ctx
        .expect([seen(r, 'x', 'a'), seen(r, 'w', 'a'), seen(r, 'z', 'a')])
        .toEqual(['reset', 'connected', 'connected']);
    },
  },
  {
    id: 'AUTHZ-04',
    claim: 'a policy that needs L7 attributes, with no waypoint, denies all traffic to its workloads',
    source: 'istio.io ambient/usage/l4-policy ("ztunnel proxy will simply drop all traffic")',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const r = await authzCase(ctx, AUTHZ_CASES.l7WithoutWaypoint);
      ctx
        .expect([seen(r, 'x', 'a'), seen(r, 'w', 'a'), seen(r, 'z', 'a'), seen(r, 'x', 'b')])
        .toEqual(['reset', 'reset', 'reset', 'connected']);
    },
  },
  {
    id: 'AUTHZ-05',
    claim: 'removing the policy restores access within the convergence timeout',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, kube, timeouts } = ctx;
      const r = await authzCase(ctx, AUTHZ_CASES.allowNothing);
      expect(seen(r, 'x', 'a')).toBe('reset');
      await kube.custom.deleteNamespacedCustomObject({
        group: 'security.istio.io',
        version: 'v1',
        namespace: r.ns.y ?? '',
        plural: 'authorizationpolicies',
        name: 'allow-nothing',
      });
      const again = r.observations
        .filter((o) => o.probe.to === `${r.ns.y}/a`)
        .map((o) => ({ ...o.probe, id: `${o.probe.id}-after`, expected: 'connected' as const }));
      const after = await converge(again, execBatchRunner(kube, timeouts.exec), {
        timeoutMs: timeouts.dataplaneConvergence,
      });
      expect(
        after
          .filter((o) => !o.settled)
          .map(
            (o) =>
              `${o.probe.client.namespace}/${o.probe.client.pod} -> ${o.probe.to}: ${o.observed} (${o.history.join(',')}); ${o.repro}`,
          ),
      ).toEqual([]);
    },
  },
]);
