import { rolloutRestart, waitDeployment } from '../../harness/budget/collect.ts';
import { defineSuite, type ConformanceContext } from '../../harness/conformance/define.ts';
import { run } from '../../harness/exec.ts';
import { uninstallArgv } from '../../harness/helm.ts';
import { deleteNamespaceAndWait, listPods } from '../../harness/kube/ops.ts';
import { createPods, execBatchRunner } from '../../harness/netpol/matrix-case.ts';
import { converge } from '../../harness/probe/engine.ts';
import { diffLeftovers, describeLeftover, leftoversReport } from '../../harness/removal/leftovers.ts';
import {
  ambientNamespaces,
  inventory,
  nodeExec,
  nodeRules,
  podsWithRedirection,
  startIpsetReaders,
  unenroll,
} from '../../harness/removal/live.ts';
import { istioCniLeftovers, NET_D_DUMP, splitDump } from '../../harness/removal/node-state.ts';
import { istioInstall } from '../../harness/plan.ts';
import { pollUntil } from '../../harness/wait.ts';
import { CLIENT_CONTAINER, pauseDeployment } from '../../harness/workloads.ts';
import { findWorkload } from '../../harness/ztunnel/configdump.ts';
import { configDumpOf, ztunnelByNode } from '../../harness/ztunnel/live.ts';

/**
 * Un-enrolling and removing the mesh. This suite always runs last (harness/conformance/sequencer.ts):
 * REMOVAL-02 uninstalls Istio.
 */

async function talks(
  ctx: ConformanceContext,
  ns: string,
  client: string,
  to: string,
  ip: string,
): Promise<{ ok: boolean; detail: string }> {
  const [o] = await converge(
    [
      {
        id: 'r0',
        client: { namespace: ns, pod: client, container: CLIENT_CONTAINER },
        to,
        ip,
        port: 80,
        expected: 'connected',
      },
    ],
    execBatchRunner(ctx.kube, ctx.timeouts.exec),
    { timeoutMs: ctx.timeouts.dataplaneConvergence },
  );
  return {
    ok: o?.settled ?? false,
    detail: `${o?.observed ?? '?'} (${o?.history.join(',') ?? ''}); ${o?.repro ?? ''}`,
  };
}

async function protocolOf(ctx: ConformanceContext, namespace: string, pod: string): Promise<string> {
  const p = await ctx.kube.core.readNamespacedPod({ namespace, name: pod });
  const zt = (await ztunnelByNode(ctx.kube, ctx.facts.istioNamespace)).get(p.spec?.nodeName ?? '') ?? '';
  return (
    findWorkload(
      await configDumpOf(ctx.kube, ctx.facts.istioNamespace, zt, ctx.timeouts.exec),
      namespace,
      pod,
    )?.protocol ?? 'absent'
  );
}

/** A meshed server Deployment (so it can be rollout-restarted) and a meshed client, in namespaces of their own. */
async function servedPair(ctx: ConformanceContext, prefix: string) {
  const { kube, facts, scope } = ctx;
  const ns = {
    s: await scope.namespace({ ambient: true, prefix: `${prefix}-s` }),
    c: await scope.namespace({ ambient: true, prefix: `${prefix}-c` }),
  };
  await kube.apps.createNamespacedDeployment({
    namespace: ns.s,
    body: pauseDeployment({ name: 'serve', namespace: ns.s, runId: facts.runId, replicas: 1, serve: true }),
  });
  await waitDeployment(ctx, ns.s, 'serve');
  const [[, client] = []] = [
    ...(await createPods(ctx, ns, { s: true, c: true }, [{ ns: 'c', name: 'a' }], 'client')),
  ];
  const server = async () =>
    (await listPods(kube, ns.s, 'app=serve')).find(
      (p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running',
    );
  return { ns, client, server };
}

export const removalTests = defineSuite('removal', [
  {
    id: 'REMOVAL-01',
    claim:
      'un-enrolling a namespace removes its pods’ redirection annotation, ztunnel reports them as TCP and traffic still flows in plaintext, with and without the documented rollout restart',
    source: 'runbook "Removal" (label removal, rollout restart); istio.io traffic redirection',
    needs: ['cluster'],
    timeout: 'podReady',
    async body(ctx) {
      const { expect } = ctx;
      const { ns, client, server } = await servedPair(ctx, 'removal-01');
      const check = async (stage: string, wantProtocol: string, wantAnnotation: string | undefined) => {
        const state = await pollUntil({
          signal: ctx.kube.signal,
          what: `${stage}: the server pod to be ${wantProtocol} in ztunnel with redirection=${wantAnnotation ?? '(absent)'}`,
          timeoutMs: ctx.timeouts.ztunnelProgrammed,
          intervalMs: ctx.timeouts.pollInterval,
          read: async () => {
            const p = await server();
            const name = p?.metadata?.name ?? '';
            return {
              name,
              ip: p?.status?.podIP ?? '',
              annotation: p?.metadata?.annotations?.['ambient.istio.io/redirection'],
              protocol: name ? await protocolOf(ctx, ns.s, name) : 'no pod',
            };
          },
          judge: (s) => ({
            done: s.protocol === wantProtocol && s.annotation === wantAnnotation,
            seen: `${s.name}: protocol=${s.protocol} redirection=${s.annotation ?? '(absent)'}`,
          }),
        });
        const t = await talks(ctx, ns.c, client?.metadata?.name ?? '', `${ns.s}/${state.name}`, state.ip);
        expect(t.ok, `${stage}: client -> server ${t.detail}`).toBe(true);
      };
      await check('enrolled', 'HBONE', 'enabled');
      await unenroll(ctx, [ns.s]);
      await check('un-enrolled, no restart', 'TCP', undefined);
      await rolloutRestart(ctx, ns.s, 'serve');
      await check('after rollout restart', 'TCP', undefined);
    },
  },
  {
    id: 'REMOVAL-04',
    claim:
      'opt-in: uninstalling istio-cni while namespaces are still enrolled leaves pods redirected and cut off until they are restarted, which is why the runbook must un-enroll first',
    source: 'istio/istio#49067; istio/istio.io#16002',
    needs: ['cluster', 'istioOwnedByRun', 'destructive'],
    timeout: 'helmInstall',
    async body(ctx) {
      const { expect, facts, profile, scope, timeouts } = ctx;
      const { ns, client, server } = await servedPair(ctx, 'removal-04');
      const probe = async () => {
        const p = await server();
        return talks(
          ctx,
          ns.c,
          client?.metadata?.name ?? '',
          `${ns.s}/${p?.metadata?.name ?? ''}`,
          p?.status?.podIP ?? '',
        );
      };
      expect((await probe()).ok, 'positive control while istio-cni is installed').toBe(true);

      // The runbook's removal deletes every Istio application at once: the data plane goes while
      // namespaces are still enrolled. Remove ztunnel and istio-cni (reverse wave order) the same way.
      const dataPlane = profile.releases.filter((r) => r.chart === 'cni' || r.chart === 'ztunnel');
      const target = { kubeconfig: facts.kubeconfig, ...(facts.context ? { context: facts.context } : {}) };
      const helm = { path: facts.helmPath, major: facts.helmMajor };
      // Whatever happens next, put them back (the plan's installs, in wave order), so the run keeps a mesh.
      scope.onCleanup(`reinstall ${dataPlane.map((r) => r.name).join(', ')}`, async () => {
        for (const r of dataPlane) {
          const again = await run(
            istioInstall(profile, r, {
              helm,
              target,
              runDir: facts.runDir,
              timeoutMs: timeouts.helmInstall,
              createNamespace: false,
              upgrade: true,
            }).command,
            { timeoutMs: timeouts.helmInstall + timeouts.commandGrace },
          );
          if (again.exitCode !== 0) throw new Error(`reinstalling ${r.name} failed: ${again.stderr.trim()}`);
        }
      });
      for (const r of [...dataPlane].reverse()) {
        const un = await run(
          uninstallArgv(helm, r.name, facts.istioNamespace, timeouts.helmUninstall, target),
          { timeoutMs: timeouts.helmUninstall + timeouts.commandGrace, signal: ctx.kube.signal },
        );
        expect(un.exitCode, un.stderr).toBe(0);
      }

      const still = (await server())?.metadata?.annotations?.['ambient.istio.io/redirection'];
      const broken = await probe();
      scope.attach(
        'what-users-meet.txt',
        `after helm uninstall of ${dataPlane.map((r) => r.name).join(' and ')} with the namespaces still enrolled:\n  server annotation ambient.istio.io/redirection=${still ?? '(absent)'}\n  client -> server: ${broken.detail}`,
      );
      expect(
        broken.ok,
        `traffic kept flowing after the data plane was removed from under enrolled pods: ${broken.detail}`,
      ).toBe(false);
      // istio-cni is gone: nothing can take the redirection annotation off; restarting does.
      await unenroll(ctx, [ns.s, ns.c], { cniRunning: false });
      await rolloutRestart(ctx, ns.s, 'serve');
      const fresh = [
        ...(await createPods(ctx, ns, { s: false, c: false }, [{ ns: 'c', name: 'a' }], 'client')),
      ][0]?.[1];
      const p = await server();
      const healed = await talks(
        ctx,
        ns.c,
        fresh?.metadata?.name ?? '',
        `${ns.s}/${p?.metadata?.name ?? ''}`,
        p?.status?.podIP ?? '',
      );
      expect(healed.ok, `restarted, un-enrolled pods must talk again: ${healed.detail}`).toBe(true);
    },
  },
  {
    id: 'REMOVAL-02',
    claim:
      'full removal done safely (un-enroll and wait, uninstall ztunnel, cni, istiod, base, delete istio-system) leaves no Istio pods, webhooks, cluster roles, CNI entries, host rules or redirected pods, and the probe pods still talk',
    source: 'runbook "Removal"; istio.io ambient Helm uninstall; istio/istio#49067',
    needs: ['cluster', 'istioOwnedByRun', 'kindNodes'],
    timeout: 'helmUninstall',
    async body(ctx) {
      const { expect, kube, facts, profile, scope, timeouts } = ctx;
      const ns = {
        s: await scope.namespace({ ambient: true, prefix: 'removal-02-s' }),
        c: await scope.namespace({ ambient: true, prefix: 'removal-02-c' }),
      };
      const [[sref, server] = []] = [
        ...(await createPods(ctx, ns, { s: true, c: true }, [{ ns: 's', name: 'a' }], 'server')),
      ];
      const [[, client] = []] = [
        ...(await createPods(ctx, ns, { s: true, c: true }, [{ ns: 'c', name: 'a' }], 'client')),
      ];
      const probe = () =>
        talks(ctx, ns.c, client?.metadata?.name ?? '', sref ?? '', server?.status?.podIP ?? '');
      expect((await probe()).ok, 'positive control before removal').toBe(true);

      // kind's node image has no ipset binary: read the ipsets from host-network pods on each node.
      const toolsNs = await scope.namespace({ prefix: 'removal-02-tools' });
      const readers = await startIpsetReaders(ctx, toolsNs, facts.nodes);
      await unenroll(ctx, await ambientNamespaces(kube));
      const target = { kubeconfig: facts.kubeconfig, ...(facts.context ? { context: facts.context } : {}) };
      for (const r of [...profile.releases].reverse()) {
        const argv = uninstallArgv(
          { path: facts.helmPath, major: facts.helmMajor },
          r.name,
          facts.istioNamespace,
          timeouts.helmUninstall,
          target,
        );
        const res = await run(argv, {
          timeoutMs: timeouts.helmUninstall + timeouts.commandGrace,
          signal: kube.signal,
        });
        scope.log(`helm uninstall ${r.name}: exit ${res.exitCode}`);
        expect(res.exitCode, `${argv.join(' ')}\n${res.stderr}`).toBe(0);
      }
      await deleteNamespaceAndWait(kube, facts.istioNamespace, timeouts);

      let inconclusive: string[] = [];
      const problems = await pollUntil({
        signal: kube.signal,
        what: 'the cluster and every node to be free of Istio (istio-cni cleans up its CNI entry and host rules as it shuts down)',
        timeoutMs: timeouts.podReady,
        intervalMs: timeouts.pollInterval,
        read: async () => {
          const left = (await inventory(kube, facts.istioNamespace))
            .filter((l) => !['CustomResourceDefinition', 'ConfigMap'].includes(l.kind))
            .map(describeLeftover);
          inconclusive = [];
          for (const node of facts.nodes) {
            left.push(
              ...istioCniLeftovers(
                splitDump(await nodeExec(node, NET_D_DUMP, timeouts.exec, kube.signal)),
              ).map((x) => `${node}: ${x}`),
            );
            const rules = await nodeRules(ctx, node, {
              namespace: toolsNs,
              ...('pods' in readers
                ? { pod: readers.pods.get(node) ?? '' }
                : { unavailable: readers.unavailable }),
            });
            left.push(...rules.leftovers.map((x) => `${node}: ${x}`));
            inconclusive.push(...rules.inconclusive.map((x) => `${node}: ${x}`));
          }
          left.push(...(await podsWithRedirection(kube)));
          return left;
        },
        judge: (left) => ({ done: left.length === 0, seen: left.join('; ') }),
      }).catch((e: unknown) => [e instanceof Error ? e.message : String(e)]);
      scope.attach(
        'after-removal.txt',
        [problems.join('\n') || 'clean', ...(inconclusive.length ? ['not read:', ...inconclusive] : [])].join(
          '\n',
        ),
      );
      expect(problems).toEqual([]);
      const after = await probe();
      expect(after.ok, `the probe pods must still talk after removal: ${after.detail}`).toBe(true);
      if (inconclusive.length)
        ctx.skip(
          `nothing of Istio was found, but these readers could not run, so the nodes cannot be called clean: ${inconclusive.join('; ')}`,
        );
    },
  },
  {
    id: 'REMOVAL-03',
    claim:
      'what remains after removal is only what the profile allows (by default the 14 Istio CRDs kept by design and the istio-ca-root-cert ConfigMaps)',
    source:
      'istio.io ambient Helm uninstall ("deleting a chart via Helm doesn’t delete the installed CRDs"); istio/istio#23706',
    needs: ['cluster', 'istioOwnedByRun'],
    async body(ctx) {
      const { expect, kube, facts, profile, scope, skip } = ctx;
      const istiod = await kube.apps
        .readNamespacedDeployment({ namespace: facts.istioNamespace, name: 'istiod' })
        .catch(() => undefined);
      if (istiod)
        skip('Istio is still installed (REMOVAL-02 did not remove it), so there are no leftovers to judge');
      const found = await inventory(kube, facts.istioNamespace);
      const allowed = profile.doc.removal.allowedLeftovers;
      scope.attach('leftovers.md', leftoversReport(found, allowed));
      expect(diffLeftovers(found, allowed).unexpected.map(describeLeftover)).toEqual([]);
    },
  },
]);
