import pLimit from 'p-limit';
import { log } from '../progress.ts';
import { humanDuration } from '../timeouts.ts';
import type { ObservedClass, ProbeResult } from './outcome.ts';
import { DEFAULT_PROBE_TIMEOUTS, reproCommand, type ProbeSpec, type ProbeTimeouts } from './script.ts';

export interface ProbeClient {
  namespace: string;
  pod: string;
  container: string;
  /** The client pod's IP (to check that servers see it: source IPs are preserved). */
  ip?: string;
}

export interface PlannedProbe {
  id: string;
  client: ProbeClient;
  /** "ns/pod" of the server. */
  to: string;
  ip: string;
  port: number;
  expected: ObservedClass;
}

export interface Observation {
  probe: PlannedProbe;
  observed: ObservedClass;
  /** The expected class held for the required number of consecutive probes. */
  settled: boolean;
  /** No probe of this client ever connected: a failure cannot be told from a broken probe path. */
  inconclusive: boolean;
  history: ObservedClass[];
  last: ProbeResult;
  repro: string;
}

/** Runs one client's probes in one exec (the real one is execInPod + buildProbeScript). */
export type BatchRunner = (client: ProbeClient, specs: ProbeSpec[]) => Promise<ProbeResult[]>;

export interface ConvergeOptions {
  /** Overall deadline for the matrix to match (the timeout table's dataplaneConvergence). */
  timeoutMs: number;
  /** Consecutive connections an allow needs (gateway-api uses 3; default 2). */
  successes?: number;
  /** Consecutive failures of the expected kind a deny needs (default 2). */
  failures?: number;
  /** Client pods probed at once (each runs all its probes in one exec). */
  concurrency?: number;
  timeouts?: ProbeTimeouts;
  now?: () => number;
}

function needed(p: PlannedProbe, o: ConvergeOptions): number {
  return p.expected === 'connected' ? (o.successes ?? 2) : (o.failures ?? 2);
}

function settledFor(p: PlannedProbe, history: ObservedClass[], o: ConvergeOptions): boolean {
  const n = needed(p, o);
  return history.length >= n && history.slice(-n).every((c) => c === p.expected);
}

/**
 * Probes every cell until each shows its expected class the required number of times in a row,
 * or the deadline passes (then the last observation stands and the cell is a mismatch). Allows
 * need consecutive successes; denials need repeated failures, and are marked inconclusive when
 * their client never connected anywhere (no positive control).
 */
export async function converge(
  probes: PlannedProbe[],
  runner: BatchRunner,
  o: ConvergeOptions,
): Promise<Observation[]> {
  const now = o.now ?? (() => performance.now());
  const deadline = now() + o.timeoutMs;
  const history = new Map<string, ObservedClass[]>(probes.map((p) => [p.id, []]));
  const last = new Map<string, ProbeResult>();
  const limit = pLimit(o.concurrency ?? 4);
  let round = 0;
  for (;;) {
    const pending = probes.filter((p) => !settledFor(p, history.get(p.id) ?? [], o));
    if (!pending.length) break;
    if (round > 0 && now() >= deadline) break;
    round++;
    const byClient = new Map<string, PlannedProbe[]>();
    for (const p of pending) {
      const k = `${p.client.namespace}/${p.client.pod}`;
      byClient.set(k, [...(byClient.get(k) ?? []), p]);
    }
    const t0 = now();
    await Promise.all(
      [...byClient.values()].map((list) =>
        limit(async () => {
          const client = list[0]?.client;
          if (!client) return;
          const results = await runner(
            client,
            list.map((p) => ({ id: p.id, ip: p.ip, port: p.port })),
          );
          for (const r of results) {
            history.get(r.id)?.push(r.class);
            last.set(r.id, r);
          }
        }),
      ),
    );
    log.debug(
      `probe round ${round}: ${pending.length} cell(s) from ${byClient.size} client(s) in ${humanDuration(now() - t0)}`,
    );
  }
  const connectedClients = new Set(
    probes
      .filter((p) => (history.get(p.id) ?? []).includes('connected'))
      .map((p) => `${p.client.namespace}/${p.client.pod}`),
  );
  return probes.map((p) => {
    const h = history.get(p.id) ?? [];
    const l = last.get(p.id) ?? {
      id: p.id,
      class: 'other' as const,
      exitCode: -1,
      httpCode: 0,
      elapsedMs: 0,
      detail: 'never probed',
    };
    const settled = settledFor(p, h, o);
    return {
      probe: p,
      observed: settled ? p.expected : l.class,
      settled,
      inconclusive:
        p.expected !== 'connected' && !connectedClients.has(`${p.client.namespace}/${p.client.pod}`),
      history: h,
      last: l,
      repro: reproCommand(
        p.client.namespace,
        p.client.pod,
        p.client.container,
        { id: p.id, ip: p.ip, port: p.port },
        o.timeouts ?? DEFAULT_PROBE_TIMEOUTS,
      ),
    };
  });
}
