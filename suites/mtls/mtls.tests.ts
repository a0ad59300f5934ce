import { defineSuite, type ConformanceContext } from '../../harness/conformance/define.ts';
import { run } from '../../harness/exec.ts';
import { createWithRetry } from '../../harness/kube/client.ts';
import { execInPod } from '../../harness/kube/exec.ts';
import {
  createPods,
  execBatchRunner,
  matrixFailure,
  runMatrixCase,
  waitPodsReady,
} from '../../harness/netpol/matrix-case.ts';
import { converge } from '../../harness/probe/engine.ts';
import { peerAuthentication } from '../../harness/netpol/istio-policies.ts';
import { pollUntil } from '../../harness/wait.ts';
import { CLIENT_CONTAINER } from '../../harness/workloads.ts';
import { connectionsBetween } from '../../harness/ztunnel/accesslog.ts';
import { judgeCapture } from '../../harness/ztunnel/capture.ts';
import { capturePod, startCapture } from '../../harness/ztunnel/capture-live.ts';
import { findWorkload, judgeCertificate, spiffeOf } from '../../harness/ztunnel/configdump.ts';
import { parseIstioctlWorkloads } from '../../harness/ztunnel/istioctl.ts';
import { accessLogOf, configDumpOf, metricsOf, ztunnelByNode } from '../../harness/ztunnel/live.ts';
import { select, sum } from '../../harness/ztunnel/metrics.ts';

/** "mTLS is on", proven several independent ways: ztunnel's state, its logs and metrics, the wire, STRICT. */

async function meshedPair(ctx: ConformanceContext, opts: { crossNode: boolean }) {
  const nodes = ctx.facts.nodes;
  const serverNode = nodes[nodes.length - 1] ?? '';
  const clientNode = opts.crossNode ? (nodes.find((n) => n !== serverNode) ?? serverNode) : serverNode;
  const ns = {
    x: await ctx.scope.namespace({ ambient: true, prefix: `${ctx.scope.id.toLowerCase()}-x` }),
    y: await ctx.scope.namespace({ ambient: true, prefix: `${ctx.scope.id.toLowerCase()}-y` }),
  };
  const meshed = { x: true, y: true };
  const [[sref, server] = []] = [
    ...(await createPods(ctx, ns, meshed, [{ ns: 'y', name: 'a', node: serverNode }], 'server')),
  ];
  const [[cref, client] = []] = [
    ...(await createPods(ctx, ns, meshed, [{ ns: 'x', name: 'a', node: clientNode }], 'client')),
  ];
  return { ns, server, client, sref: sref ?? '', cref: cref ?? '', serverNode, clientNode };
}

export const mtlsTests = defineSuite('mtls', [
  {
    id: 'MTLS-01',
    claim:
      'every probe pod of a meshed namespace appears in ztunnel with protocol HBONE, of the control namespace with TCP, and each meshed pod is Up in its own node’s ztunnel',
    source: 'ztunnel admin /config_dump (workloads, workloadState); runbook "Check for HBONE protocol"',
    needs: ['cluster'],
    async body(ctx) {
      const { expect, kube, facts, timeouts } = ctx;
      const ns = {
        m: await ctx.scope.namespace({ ambient: true, prefix: 'mtls-01-m' }),
        c: await ctx.scope.namespace({ prefix: 'mtls-01-c' }),
      };
      const pods = [
        ...(
          await createPods(
            ctx,
            ns,
            { m: true },
            [
              { ns: 'm', name: 'a' },
              { ns: 'm', name: 'b' },
              { ns: 'c', name: 'a' },
            ],
            'server',
          )
        ).values(),
      ];
      const ztunnels = await ztunnelByNode(kube, facts.istioNamespace);
      const problems = await pollUntil({
        signal: kube.signal,
        what: 'every ztunnel to list the probe pods with the right protocol, and each meshed pod Up on its node',
        timeoutMs: timeouts.ztunnelProgrammed,
        intervalMs: timeouts.pollInterval,
        read: async () => {
          const dumps = new Map(
            await Promise.all(
              [...ztunnels].map(
                async ([node, pod]) =>
                  [node, await configDumpOf(kube, facts.istioNamespace, pod, timeouts.exec)] as const,
              ),
            ),
          );
          const out: string[] = [];
          for (const p of pods) {
            const name = p.metadata?.name ?? '';
            const namespace = p.metadata?.namespace ?? '';
            const want = namespace === ns.m ? 'HBONE' : 'TCP';
            for (const [node, dump] of dumps) {
              const w = findWorkload(dump, namespace, name);
              if (!w) out.push(`${node}: ${namespace}/${name} missing`);
              else if (w.protocol !== want)
                out.push(`${node}: ${namespace}/${name} protocol ${w.protocol}, expected ${want}`);
            }
            if (namespace === ns.m) {
              const own = dumps.get(p.spec?.nodeName ?? '');
              const st = own?.workloadState.find((s) => s.uid === p.metadata?.uid);
              if (st?.state !== 'Up')
                out.push(
                  `${p.spec?.nodeName ?? '?'}: workloadState of ${namespace}/${name} is ${st?.state ?? 'absent'}, expected Up`,
                );
            }
          }
          return out;
        },
        judge: (out) => ({ done: out.length === 0, seen: out.join('; ') }),
      });
      expect(problems).toEqual([]);
      // Cross-check with istioctl when it is installed (optional): same protocols in its table.
      const version = await run(['istioctl', 'version', '--remote=false'], {
        timeoutMs: timeouts.exec,
        echo: false,
        signal: kube.signal,
      });
      if (!version.notFound && version.exitCode === 0) {
        const r = await run(
          [
            'istioctl',
            'ztunnel-config',
            'workloads',
            '--kubeconfig',
            facts.kubeconfig,
            ...(facts.context ? ['--context', facts.context] : []),
            '-i',
            facts.istioNamespace,
          ],
          { timeoutMs: timeouts.exec, signal: kube.signal },
        );
        const rows = parseIstioctlWorkloads(r.stdout);
        ctx.scope.attach('istioctl-ztunnel-config-workloads.txt', r.stdout);
        const mismatched = pods.filter((p) => {
          const row = rows.find(
            (x) => x.namespace === p.metadata?.namespace && x.podName === p.metadata?.name,
          );
          return row?.protocol !== (p.metadata?.namespace === ns.m ? 'HBONE' : 'TCP');
        });
        expect(
          mismatched.map((p) => p.metadata?.name),
          'istioctl ztunnel-config workloads disagrees',
        ).toEqual([]);
      } else ctx.scope.log('istioctl not on PATH: no cross-check');
    },
  },
  {
    id: 'MTLS-02',
    claim:
      'between meshed pods, on one node and across nodes, both ztunnels log the SPIFFE identities of the pods’ service accounts and metrics record mutual_tls with those principals',
    source: 'istio.io ambient/usage/verify-mtls-enabled',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, kube, facts, timeouts } = ctx;
      const ztunnels = await ztunnelByNode(kube, facts.istioNamespace);
      for (const crossNode of facts.nodes.length > 1 ? [false, true] : [false]) {
        const pair = await meshedPair(ctx, { crossNode });
        const srcId = `spiffe://cluster.local/ns/${pair.ns.x}/sa/probe-x`;
        const dstId = `spiffe://cluster.local/ns/${pair.ns.y}/sa/probe-y`;
        const probe = {
          id: 'p0',
          client: {
            namespace: pair.ns.x,
            pod: pair.client?.metadata?.name ?? '',
            container: CLIENT_CONTAINER,
          },
          to: pair.sref,
          ip: pair.server?.status?.podIP ?? '',
          port: 80,
          expected: 'connected' as const,
        };
        const [obs] = await converge([probe], execBatchRunner(kube, timeouts.exec), {
          timeoutMs: timeouts.dataplaneConvergence,
        });
        expect(obs?.settled, `probe ${obs?.observed}: ${obs?.repro}`).toBe(true);
        const ips = [pair.client?.status?.podIP ?? '', pair.server?.status?.podIP ?? ''] as const;
        for (const [side, node, direction] of [
          ['source', pair.clientNode, 'outbound'],
          ['destination', pair.serverNode, 'inbound'],
        ] as const) {
          const zt = ztunnels.get(node) ?? '';
          const entries = await pollUntil({
            signal: kube.signal,
            what: `the ${side} ztunnel (${zt}) to log the ${direction} connection ${ips[0]} -> ${ips[1]}`,
            timeoutMs: timeouts.ztunnelProgrammed,
            intervalMs: timeouts.pollInterval,
            read: async () =>
              connectionsBetween(
                await accessLogOf(kube, facts.istioNamespace, zt, 600),
                ips[0],
                ips[1],
              ).filter((e) => e.fields.direction === direction),
            judge: (list) => ({ done: list.length > 0, seen: `${list.length} matching line(s)` }),
          });
          expect(entries.map((e) => [e.fields['src.identity'], e.fields['dst.identity']])).toContainEqual([
            srcId,
            dstId,
          ]);
        }
        const samples = await metricsOf(
          kube,
          facts.istioNamespace,
          ztunnels.get(pair.serverNode) ?? '',
          timeouts.exec,
        );
        const mtls = select(samples, 'istio_tcp_connections_opened_total', {
          reporter: 'destination',
          connection_security_policy: 'mutual_tls',
          source_principal: srcId,
          destination_principal: dstId,
        });
        expect(
          sum(mtls),
          `istio_tcp_connections_opened_total{reporter="destination",connection_security_policy="mutual_tls",source_principal="${srcId}"}`,
        ).toBeGreaterThan(0);
      }
    },
  },
  {
    id: 'MTLS-03',
    claim:
      'on the wire between meshed pods on different nodes only port 15008 is used and a marker in the request never appears in clear, while a plaintext control pair shows it',
    source: 'Cilium connectivity test "encryption" checks; ztunnel ARCHITECTURE.md',
    needs: ['cluster', 'kindNodes'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect, kube, facts, scope, skip } = ctx;
      if (facts.nodes.length < 2) skip('needs two nodes to see pod traffic cross the host');
      const serverNode = facts.nodes[facts.nodes.length - 1] ?? '';
      const clientNode = facts.nodes.find((n) => n !== serverNode) ?? '';
      const capNs = await scope.namespace({ prefix: 'mtls-03-cap' });
      await createWithRetry(`create pod ${capNs}/capture`, () =>
        kube.core.createNamespacedPod({
          namespace: capNs,
          body: capturePod('capture', capNs, serverNode, facts.runId),
        }),
      );
      await waitPodsReady(ctx, [{ namespace: capNs, name: 'capture', meshed: false }]);
      const results: Record<string, ReturnType<typeof judgeCapture>> = {};
      for (const meshed of [true, false]) {
        const key = meshed ? 'meshed' : 'plaintext';
        const ns = {
          s: await scope.namespace({ ambient: meshed, prefix: `mtls-03-${key}-s` }),
          c: await scope.namespace({ ambient: meshed, prefix: `mtls-03-${key}-c` }),
        };
        const [[, server] = []] = [
          ...(await createPods(
            ctx,
            ns,
            { s: meshed, c: meshed },
            [{ ns: 's', name: 'a', node: serverNode }],
            'server',
          )),
        ];
        const [[, client] = []] = [
          ...(await createPods(
            ctx,
            ns,
            { s: meshed, c: meshed },
            [{ ns: 'c', name: 'a', node: clientNode }],
            'client',
          )),
        ];
        const [cip, sip] = [client?.status?.podIP ?? '', server?.status?.podIP ?? ''];
        const marker = `AC-MARKER-${facts.runId.slice(-4)}-${Math.random().toString(36).slice(2, 10)}`;
        const capture = await startCapture(ctx, capNs, 'capture', cip, sip);
        const r = await execInPod(
          kube,
          ns.c,
          client?.metadata?.name ?? '',
          CLIENT_CONTAINER,
          ['curl', '-sS', '--max-time', '12', `http://${sip}:80/echo?msg=${marker}`],
          ctx.timeouts.exec,
        );
        expect(
          r.stdout.trim(),
          `the ${key} request must succeed (curl exit ${r.exitCode}: ${r.stderr.trim()})`,
        ).toBe(marker);
        results[key] = judgeCapture(await capture.stop(), cip, sip, marker);
      }
      scope.attach('capture-verdicts.json', JSON.stringify(results, null, 2));
      expect(
        results.plaintext?.markerSeen,
        'control: the capture must see the plaintext marker (proves the capture works)',
      ).toBe(true);
      expect(results.meshed?.packets, 'the capture saw no meshed packets between the pods').toBeGreaterThan(
        0,
      );
      expect(results.meshed?.serverPorts).toEqual([15008]);
      expect(results.meshed?.markerSeen).toBe(false);
    },
  },
  {
    id: 'MTLS-04',
    claim:
      'PeerAuthentication STRICT on a meshed namespace resets plaintext from the control namespace while meshed clients connect; PERMISSIVE accepts both',
    source: 'istio.io ambient/usage/l4-policy; istio_converted_static_strict',
    needs: ['cluster'],
    timeout: 'dataplaneConvergence',
    async body(ctx) {
      const { expect } = ctx;
      for (const mode of ['STRICT', 'PERMISSIVE'] as const) {
        const r = await runMatrixCase(ctx, {
          label: mode.toLowerCase(),
          namespaces: [
            { key: 'x', meshed: true },
            { key: 'y', meshed: true },
            { key: 'z', meshed: false },
          ],
          // z/a is the plaintext client's positive control: a reset from y only counts as STRICT's
          // when the same client connects elsewhere (a client that never connects proves nothing).
          servers: [
            { ns: 'y', name: 'a' },
            { ns: 'z', name: 'a' },
          ],
          clients: [
            { ns: 'x', name: 'a' },
            { ns: 'z', name: 'a' },
          ],
          istio: (ns) => [peerAuthentication(ns.y ?? '', mode)],
        });
        expect(r.mismatches, matrixFailure(r)).toEqual([]);
        const from = (k: string) =>
          r.observations.find(
            (o) =>
              o.probe.client.namespace === r.ns[k] &&
              o.probe.to.startsWith(`${r.ns.y ?? ''}/`) &&
              o.probe.port === 80,
          )?.observed;
        expect([mode, from('x'), from('z')]).toEqual(
          mode === 'STRICT' ? ['STRICT', 'connected', 'reset'] : ['PERMISSIVE', 'connected', 'connected'],
        );
      }
    },
  },
  {
    id: 'MTLS-05',
    claim:
      'each ztunnel holds certificates that are Available and unexpired for the identities of the meshed pods on its node',
    source: 'ztunnel /config_dump certificates',
    needs: ['cluster'],
    async body(ctx) {
      const { expect, kube, facts, timeouts } = ctx;
      const ns = { m: await ctx.scope.namespace({ ambient: true, prefix: 'mtls-05-m' }) };
      const pods = [
        ...(
          await createPods(
            ctx,
            ns,
            { m: true },
            facts.nodes.map((node, i) => ({ ns: 'm', name: `s${i}`, node, serviceAccount: `sa-${i}` })),
            'server',
          )
        ).values(),
      ];
      const ztunnels = await ztunnelByNode(kube, facts.istioNamespace);
      const problems = await pollUntil({
        signal: kube.signal,
        what: 'each node’s ztunnel to hold an Available, valid certificate for each meshed pod’s identity',
        timeoutMs: timeouts.ztunnelProgrammed,
        intervalMs: timeouts.pollInterval,
        read: async () => {
          const out: string[] = [];
          for (const p of pods) {
            const node = p.spec?.nodeName ?? '';
            const dump = await configDumpOf(
              kube,
              facts.istioNamespace,
              ztunnels.get(node) ?? '',
              timeouts.exec,
            );
            const w = findWorkload(dump, p.metadata?.namespace ?? '', p.metadata?.name ?? '');
            out.push(
              ...(w
                ? judgeCertificate(dump, spiffeOf(w), new Date()).map((x) => `${node}: ${x}`)
                : [`${node}: ${p.metadata?.name ?? ''} not in config_dump`]),
            );
          }
          return out;
        },
        judge: (out) => ({ done: out.length === 0, seen: out.join('; ') }),
      });
      expect(problems).toEqual([]);
    },
  },
]);
