import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { KubeClients } from './kube/client.ts';
import { describePod, isPodReady } from './kube/health.ts';
import { ISTIO_OBJECTS } from './kube/ops.ts';
import { getViaPortForward } from './kube/portforward.ts';
import { log } from './progress.ts';
import { redact } from './redact.ts';

/**
 * Diagnostics for a failed test, collected before cleanup into reports/<run>/artifacts/<test-id>/:
 * events, a describe of every non-ready pod, logs of istiod, istio-cni and ztunnel (and of the
 * test's pods), and each ztunnel's /config_dump. Every piece is best effort and the whole has a
 * hard deadline, so a hung call cannot hide the original failure.
 */

export interface DiagnosticsRequest {
  dir: string;
  istioNamespace: string;
  /** The test's own namespaces. */
  namespaces: string[];
  deadlineMs: number;
  /** Bound of one port-forward read (the timeout table's exec), within deadlineMs. */
  execTimeoutMs: number;
  tailLines?: number;
}

export function formatEvents(events: CoreV1Event[]): string {
  const rows = events
    .map((e) => ({
      time: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp,
      line: `${e.type ?? ''}\t${e.reason ?? ''}\t${e.involvedObject?.kind ?? ''}/${e.involvedObject?.name ?? ''}\t${(e.message ?? '').trim()}`,
    }))
    // By instant, not by the text of a Date (whose toString starts with the weekday); no time last.
    .map((r) => ({ ...r, ms: r.time === undefined ? NaN : new Date(r.time as Date | string).getTime() }))
    .sort((a, b) => (Number.isNaN(a.ms) ? Infinity : a.ms) - (Number.isNaN(b.ms) ? Infinity : b.ms));
  return rows.map((r) => `${Number.isNaN(r.ms) ? '-' : new Date(r.ms).toISOString()}\t${r.line}`).join('\n');
}

/** A kubectl-describe-like summary of a pod: status, conditions, container states, restarts. */
export function describePodText(p: V1Pod): string {
  const summary = {
    pod: describePod(p),
    conditions: p.status?.conditions?.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`),
    containers: [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])].map(
      (cs) => ({
        name: cs.name,
        image: cs.image,
        ready: cs.ready,
        restarts: cs.restartCount,
        state: cs.state,
        lastState: cs.lastState,
      }),
    ),
    annotations: p.metadata?.annotations,
    labels: p.metadata?.labels,
  };
  return stringify(summary);
}

function write(dir: string, rel: string, content: string): void {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, redact(content));
}

export async function collectDiagnostics(kube: KubeClients, req: DiagnosticsRequest): Promise<string[]> {
  const written: string[] = [];
  const problems: string[] = [];
  const tail = req.tailLines ?? 400;
  const deadline = performance.now() + req.deadlineMs;
  const left = () => Math.max(1000, deadline - performance.now());

  const attempt = async (label: string, fn: () => Promise<void>) => {
    if (performance.now() > deadline) {
      problems.push(`${label}: skipped, diagnostics deadline reached`);
      return;
    }
    try {
      await fn();
    } catch (e) {
      problems.push(`${label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const all = [...new Set([...req.namespaces, req.istioNamespace])];
  for (const ns of all) {
    await attempt(`events ${ns}`, async () => {
      const ev = await kube.core.listNamespacedEvent({ namespace: ns });
      write(req.dir, `events/${ns}.tsv`, formatEvents(ev.items));
      written.push(`events/${ns}.tsv`);
    });
    await attempt(`pods ${ns}`, async () => {
      const pods = (await kube.core.listNamespacedPod({ namespace: ns })).items;
      const notReady = pods.filter((p) => !isPodReady(p));
      if (notReady.length) {
        write(req.dir, `describe/${ns}.yaml`, notReady.map(describePodText).join('---\n'));
        written.push(`describe/${ns}.yaml`);
      }
      const wanted =
        ns === req.istioNamespace
          ? pods.filter((p) => {
              const l = p.metadata?.labels ?? {};
              return l.app === 'istiod' || l.app === 'ztunnel' || l['k8s-app'] === 'istio-cni-node';
            })
          : pods;
      for (const p of wanted) {
        for (const c of p.spec?.containers ?? []) {
          await attempt(`logs ${ns}/${p.metadata?.name}/${c.name}`, async () => {
            const text = await kube.core.readNamespacedPodLog({
              namespace: ns,
              name: p.metadata?.name ?? '',
              container: c.name,
              tailLines: tail,
              timestamps: true,
            });
            const rel = `logs/${ns}/${p.metadata?.name}.${c.name}.log`;
            write(req.dir, rel, text);
            written.push(rel);
          });
        }
      }
    });
  }

  await attempt('ztunnel config dumps', async () => {
    const zpods = (
      await kube.core.listNamespacedPod({
        namespace: req.istioNamespace,
        labelSelector: ISTIO_OBJECTS.ztunnel.selector,
      })
    ).items;
    for (const p of zpods) {
      const name = p.metadata?.name ?? '';
      await attempt(`config_dump ${name}`, async () => {
        const body = await getViaPortForward(
          kube,
          req.istioNamespace,
          name,
          15000,
          '/config_dump',
          Math.min(left(), req.execTimeoutMs),
        );
        const rel = `ztunnel/${name}.config_dump.json`;
        write(req.dir, rel, body);
        written.push(rel);
      });
    }
  });

  if (problems.length) {
    write(req.dir, 'diagnostics-problems.txt', problems.join('\n'));
    log.warn(
      `diagnostics: ${problems.length} piece(s) could not be collected (see ${path.join(req.dir, 'diagnostics-problems.txt')})`,
    );
  }
  return written;
}
