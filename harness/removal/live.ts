import type { ConformanceContext } from '../conformance/define.ts';
import { createWithRetry } from '../kube/client.ts';
import { execInPod } from '../kube/exec.ts';
import { waitPodsReady } from '../netpol/matrix-case.ts';
import { capturePod } from '../ztunnel/capture-live.ts';
import {
  IPSET_LIST,
  judgeNodeRules,
  parseRuleSections,
  RULES_DUMP,
  type NodeRulesVerdict,
} from './node-state.ts';
import { cancelledError, commandFailed, run } from '../exec.ts';
import type { KubeClients } from '../kube/client.ts';
import { DATAPLANE_MODE_LABEL } from '../kube/ops.ts';
import { pollUntil } from '../wait.ts';
import type { Leftover } from './leftovers.ts';

const REDIRECTION = 'ambient.istio.io/redirection';

/** A command on a kind node (the node container carries the node's name). */
export async function nodeExec(
  node: string,
  script: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  const r = await run(['docker', 'exec', node, 'sh', '-c', script], {
    timeoutMs,
    ...(signal ? { signal } : {}),
  });
  if (r.cancelled) throw cancelledError(`docker exec ${node}`, r, signal);
  if (r.exitCode !== 0)
    throw commandFailed(
      `docker exec ${node}`,
      r,
      timeoutMs,
      'is this a kind cluster of this tool and is Docker running?',
    );
  return r.stdout;
}

export async function podsWithRedirection(kube: KubeClients): Promise<string[]> {
  const pods = (await kube.core.listPodForAllNamespaces()).items;
  return pods
    .filter((p) => p.metadata?.annotations?.[REDIRECTION] !== undefined)
    .map(
      (p) =>
        `${p.metadata?.namespace}/${p.metadata?.name} (${REDIRECTION}=${p.metadata?.annotations?.[REDIRECTION] ?? ''})`,
    );
}

/**
 * Removes istio.io/dataplane-mode from the namespaces. With istio-cni running (the default), waits
 * until it has taken ambient.istio.io/redirection off every pod there. Without istio-cni
 * (`cniRunning: false`, e.g. after the data plane was uninstalled) nothing can remove the
 * annotation: waiting would only burn the timeout, so it returns at once and the caller restarts
 * the pods instead.
 */
export async function unenroll(
  ctx: Pick<ConformanceContext, 'kube' | 'timeouts'>,
  namespaces: string[],
  opts: { cniRunning: boolean } = { cniRunning: true },
): Promise<void> {
  for (const name of namespaces) {
    const ns = await ctx.kube.core.readNamespace({ name });
    const labels = { ...(ns.metadata?.labels ?? {}) };
    if (!(DATAPLANE_MODE_LABEL in labels)) continue;
    delete labels[DATAPLANE_MODE_LABEL];
    await ctx.kube.core.replaceNamespace({ name, body: { ...ns, metadata: { ...ns.metadata, labels } } });
  }
  if (!opts.cniRunning) return;
  await pollUntil({
    signal: ctx.kube.signal,
    what: `istio-cni to remove ${REDIRECTION} from every pod of ${namespaces.join(', ')}`,
    timeoutMs: ctx.timeouts.podReady,
    intervalMs: ctx.timeouts.pollInterval,
    read: async () =>
      (await podsWithRedirection(ctx.kube)).filter((p) => namespaces.some((n) => p.startsWith(`${n}/`))),
    judge: (left) => ({ done: left.length === 0, seen: left.join(', ') || 'none' }),
  });
}

export async function ambientNamespaces(kube: KubeClients): Promise<string[]> {
  return (await kube.core.listNamespace({ labelSelector: `${DATAPLANE_MODE_LABEL}=ambient` })).items.map(
    (n) => n.metadata?.name ?? '',
  );
}

/** Everything of Istio that is still in the cluster (REMOVAL-02 checks, REMOVAL-03 report). */
export async function inventory(kube: KubeClients, istioNamespace: string): Promise<Leftover[]> {
  const out: Leftover[] = [];
  const istioish = (name: string) => /istio/.test(name) || name === 'ztunnel';
  for (const c of (await kube.apiext.listCustomResourceDefinition()).items)
    if ((c.metadata?.name ?? '').endsWith('.istio.io'))
      out.push({ kind: 'CustomResourceDefinition', name: c.metadata?.name ?? '' });
  for (const cm of (await kube.core.listConfigMapForAllNamespaces({ labelSelector: 'istio.io/config=true' }))
    .items)
    out.push({ kind: 'ConfigMap', name: cm.metadata?.name ?? '', namespace: cm.metadata?.namespace ?? '' });
  for (const w of (await kube.admission.listMutatingWebhookConfiguration()).items)
    if (istioish(w.metadata?.name ?? ''))
      out.push({ kind: 'MutatingWebhookConfiguration', name: w.metadata?.name ?? '' });
  for (const w of (await kube.admission.listValidatingWebhookConfiguration()).items)
    if (istioish(w.metadata?.name ?? ''))
      out.push({ kind: 'ValidatingWebhookConfiguration', name: w.metadata?.name ?? '' });
  for (const r of (await kube.rbac.listClusterRole()).items)
    if (istioish(r.metadata?.name ?? '')) out.push({ kind: 'ClusterRole', name: r.metadata?.name ?? '' });
  for (const r of (await kube.rbac.listClusterRoleBinding()).items)
    if (istioish(r.metadata?.name ?? ''))
      out.push({ kind: 'ClusterRoleBinding', name: r.metadata?.name ?? '' });
  for (const n of (await kube.core.listNamespace()).items) {
    const mode = n.metadata?.labels?.[DATAPLANE_MODE_LABEL];
    if (mode !== undefined)
      out.push({
        kind: 'Namespace',
        name: n.metadata?.name ?? '',
        detail: `label ${DATAPLANE_MODE_LABEL}=${mode}`,
      });
    if (n.metadata?.name === istioNamespace)
      out.push({ kind: 'Namespace', name: istioNamespace, detail: n.status?.phase ?? '' });
  }
  for (const p of (await kube.core.listPodForAllNamespaces()).items) {
    const l = p.metadata?.labels ?? {};
    if (l.app === 'istiod' || l.app === 'ztunnel' || l['k8s-app'] === 'istio-cni-node')
      out.push({
        kind: 'Pod',
        name: p.metadata?.name ?? '',
        namespace: p.metadata?.namespace ?? '',
        detail: 'Istio component',
      });
    else if (p.metadata?.annotations?.[REDIRECTION] !== undefined)
      out.push({
        kind: 'Pod',
        name: p.metadata?.name ?? '',
        namespace: p.metadata?.namespace ?? '',
        detail: `annotation ${REDIRECTION}=${p.metadata.annotations[REDIRECTION] ?? ''}`,
      });
  }
  const nsExists = out.some((l) => l.kind === 'Namespace' && l.name === istioNamespace);
  if (nsExists) {
    for (const s of (await kube.core.listNamespacedSecret({ namespace: istioNamespace })).items)
      out.push({ kind: 'Secret', name: s.metadata?.name ?? '', namespace: istioNamespace });
  }
  return out;
}

/**
 * Host-network netshoot pods (pinned by digest; netshoot v0.11 ships ipset) on every node, in
 * `namespace`, to read the ipsets that kind's node image has no binary for. Returns the pod of
 * each node, or the reason none could be had.
 */
export async function startIpsetReaders(
  ctx: ConformanceContext,
  namespace: string,
  nodes: string[],
): Promise<{ pods: Map<string, string> } | { unavailable: string }> {
  try {
    const pods = new Map<string, string>();
    for (const [i, node] of nodes.entries()) {
      const name = `node-tools-${i}`;
      await createWithRetry(`create pod ${namespace}/${name}`, () =>
        ctx.kube.core.createNamespacedPod({
          namespace,
          body: capturePod(name, namespace, node, ctx.facts.runId),
        }),
      );
      pods.set(node, name);
    }
    await waitPodsReady(
      ctx,
      [...pods.values()].map((name) => ({ namespace, name, meshed: false })),
    );
    return { pods };
  } catch (e) {
    return { unavailable: `no ipset reader pod: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Istio's host rules on a kind node: iptables and ip6tables of both backends and nft through
 * `docker exec`, ipsets through the node's reader pod. A reader that is missing makes the node
 * inconclusive, never clean.
 */
export async function nodeRules(
  ctx: ConformanceContext,
  node: string,
  ipset: { namespace: string; pod?: string; unavailable?: string },
): Promise<NodeRulesVerdict> {
  let text = await nodeExec(node, RULES_DUMP, ctx.timeouts.exec, ctx.kube.signal);
  if (ipset.pod) {
    const r = await execInPod(
      ctx.kube,
      ipset.namespace,
      ipset.pod,
      'tcpdump',
      ['sh', '-c', IPSET_LIST],
      ctx.timeouts.exec,
    ).catch((e: unknown) => ({
      stdout: `==> ipset <==\n${e instanceof Error ? e.message : String(e)}\n==> ipset failed: exec <==\n`,
    }));
    text += `\n${r.stdout}`;
  }
  const verdict = judgeNodeRules(parseRuleSections(text));
  if (!ipset.pod && ipset.unavailable)
    verdict.inconclusive = verdict.inconclusive.map((x) =>
      x === 'ipset: not read' ? `ipset: not read (${ipset.unavailable})` : x,
    );
  return verdict;
}
