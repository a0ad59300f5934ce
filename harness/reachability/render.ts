import type { Observation } from '../probe/engine.ts';
import { expectedClass, type ObservedClass } from '../probe/outcome.ts';
import type { ReachabilityModel } from './model.ts';
import type { Cell, Outcome } from './types.ts';

/**
 * Truth tables in the style of Kubernetes' NetworkPolicy e2e tests: one grid per port, rows are
 * clients (from), columns servers (to). Expected and observed use the same symbols; the
 * comparison marks each wrong cell with X.
 */
export const SYMBOL: Record<Outcome | ObservedClass, string> = {
  allow: '.',
  connected: '.',
  drop: 'T',
  timeout: 'T',
  deny: 'R',
  reset: 'R',
  refused: 'F',
  'dns-error': 'D',
  other: '?',
};

export const LEGEND =
  '. connects   T dropped (timeout)   R reset by the mesh   F refused   D DNS error   ? other   (blank: same pod or port not served)';

interface Grid {
  port: number;
  rows: string[];
  cols: string[];
  get(from: string, to: string): string | undefined;
}

/**
 * Row order: pods by name, then the sources that are not pods (`[kubelet]`, `[host] …`), which
 * start with "[" and keep their given order, as the streamed tables print them.
 */
function bySource(a: string, b: string): number {
  const ha = a.startsWith('[');
  const hb = b.startsWith('[');
  if (ha !== hb) return ha ? 1 : -1;
  if (ha) return 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

function grids(entries: { from: string; to: string; port: number; symbol: string }[]): Grid[] {
  const ports = [...new Set(entries.map((e) => e.port))].sort((a, b) => a - b);
  return ports.map((port) => {
    const mine = entries.filter((e) => e.port === port);
    const rows = [...new Set(mine.map((e) => e.from))].sort(bySource);
    const cols = [...new Set(mine.map((e) => e.to))].sort();
    const map = new Map(mine.map((e) => [`${e.from}\u0000${e.to}`, e.symbol]));
    return { port, rows, cols, get: (f, t) => map.get(`${f}\u0000${t}`) };
  });
}

function renderGrid(title: string, g: Grid): string {
  const width = Math.max(4, ...g.rows.map((r) => r.length));
  const colIdx = g.cols.map((_, i) => String(i + 1));
  const cw = Math.max(2, ...colIdx.map((c) => c.length)) + 1;
  const lines = [`${title} TCP ${g.port}`];
  lines.push(`${''.padEnd(width)} ${colIdx.map((c) => c.padStart(cw)).join('')}`);
  for (const r of g.rows)
    lines.push(`${r.padEnd(width)} ${g.cols.map((c) => (g.get(r, c) ?? ' ').padStart(cw)).join('')}`);
  lines.push(`  columns: ${g.cols.map((c, i) => `${i + 1}=${c}`).join('  ')}`);
  return lines.join('\n');
}

/**
 * renderExpected(model.matrix(ports)) as a sequence of text chunks, computed straight from the model
 * one row at a time (no Cell objects, no reasons), so that large tables stream in bounded memory.
 */
export function* expectedChunks(model: ReachabilityModel, ports?: number[]): Generator<string> {
  const n = model.sourceCount;
  const keys = Array.from({ length: n }, (_, s) => model.sourceKey(s));
  const dests = model.pods.map((_, d) => d);
  const portsOf = model.pods.map((_, d) => model.portsOf(d, ports));
  const cellPorts = (s: number, d: number) =>
    s < model.pods.length ? (s === d ? [] : (portsOf[d] ?? [])) : model.cellPorts(s, d, ports);
  // A destination's columns: its ports, and the ports the kubelet probes on it (which need not be
  // declared container ports).
  const hostRows = Array.from({ length: model.hostSources.length }, (_, h) => model.pods.length + h);
  const colPorts = model.pods.map(
    (_, d) => new Set([...(portsOf[d] ?? []), ...hostRows.flatMap((h) => cellPorts(h, d))]),
  );
  // Pods sort by name; the host sources ([kubelet], [host] …) follow them, in model order.
  const byKey = (a: number, b: number) => {
    const ha = a >= model.pods.length;
    const hb = b >= model.pods.length;
    if (ha !== hb) return ha ? 1 : -1;
    if (ha) return a - b;
    return (keys[a] ?? '') < (keys[b] ?? '') ? -1 : (keys[a] ?? '') > (keys[b] ?? '') ? 1 : 0;
  };
  const all = [...new Set(colPorts.flatMap((c) => [...c]))].sort((a, b) => a - b);
  let first = true;
  for (const port of all) {
    const cols = dests.filter((d) => colPorts[d]?.has(port)).sort(byKey);
    const rows = Array.from({ length: n }, (_, s) => s)
      .filter((s) => cols.some((d) => d !== s && cellPorts(s, d).includes(port)))
      .sort(byKey);
    if (!rows.length) continue;
    let width = 4;
    for (const r of rows) width = Math.max(width, (keys[r] ?? '').length);
    const cw = Math.max(2, String(cols.length).length) + 1;
    let header = `${first ? '' : '\n\n'}expected TCP ${port}\n${''.padEnd(width)} `;
    for (let i = 0; i < cols.length; i++) header += String(i + 1).padStart(cw);
    yield header;
    first = false;
    for (const r of rows) {
      let line = `\n${(keys[r] ?? '').padEnd(width)} `;
      for (const c of cols)
        line += (
          c === r || !cellPorts(r, c).includes(port) ? ' ' : SYMBOL[model.outcome(r, c, port)]
        ).padStart(cw);
      yield line;
    }
    yield `\n  columns: ${cols.map((c, i) => `${i + 1}=${keys[c] ?? ''}`).join('  ')}`;
  }
}

export function renderExpected(cells: Cell[]): string {
  return grids(cells.map((c) => ({ from: c.from, to: c.to, port: c.port, symbol: SYMBOL[c.outcome] })))
    .map((g) => renderGrid('expected', g))
    .join('\n\n');
}

export function renderObserved(obs: Observation[]): string {
  return grids(
    obs.map((o) => ({
      from: `${o.probe.client.namespace}/${o.probe.client.pod}`,
      to: o.probe.to,
      port: o.probe.port,
      symbol: SYMBOL[o.observed],
    })),
  )
    .map((g) => renderGrid('observed', g))
    .join('\n\n');
}

export interface Mismatch {
  from: string;
  to: string;
  port: number;
  expected: ObservedClass;
  observed: ObservedClass;
  inconclusive: boolean;
  /**
   * The cell showed what was expected, but not as many times in a row as it must before the
   * convergence deadline (probe/engine.ts converge): how many times it did.
   */
  unsettledRun?: number;
  reason: string;
  detail: string;
  repro: string;
}

/** Cells whose observation differs from the prediction (or could not be trusted), with how to reproduce them. */
export function mismatches(obs: Observation[], reasons: Map<string, string> = new Map()): Mismatch[] {
  return obs
    .filter((o) => !o.settled || o.inconclusive)
    .map((o) => {
      const from = `${o.probe.client.namespace}/${o.probe.client.pod}`;
      return {
        from,
        to: o.probe.to,
        port: o.probe.port,
        expected: o.probe.expected,
        observed: o.observed,
        inconclusive: o.inconclusive,
        ...(!o.settled && o.observed === o.probe.expected
          ? { unsettledRun: trailingRun(o.history, o.observed) }
          : {}),
        reason: reasons.get(`${from}|${o.probe.to}|${o.probe.port}`) ?? '',
        detail: `${o.last.detail}; history ${o.history.join(',')}`,
        repro: o.repro,
      };
    });
}

/** How many of the last observations in a row were `cls`. */
function trailingRun(history: ObservedClass[], cls: ObservedClass): number {
  let n = 0;
  for (let i = history.length - 1; i >= 0 && history[i] === cls; i--) n++;
  return n;
}

function mismatchHead(m: Mismatch): string {
  const head = `${m.from} -> ${m.to}:${m.port}: expected ${m.expected}`;
  if (m.unsettledRun !== undefined)
    return `${head}, seen ${m.unsettledRun} time(s) in a row but not as often as required before the convergence deadline (the deadline passed before it was seen again; on a slow machine raise AMBIENT_TIMEOUT_DATAPLANE_CONVERGENCE)`;
  return `${head}, observed ${m.observed}${m.inconclusive ? ' (inconclusive: this client never connected anywhere)' : ''}`;
}

export function renderComparison(obs: Observation[]): string {
  return grids(
    obs.map((o) => ({
      from: `${o.probe.client.namespace}/${o.probe.client.pod}`,
      to: o.probe.to,
      port: o.probe.port,
      symbol: o.inconclusive ? '?' : o.settled ? '.' : 'X',
    })),
  )
    .map((g) => renderGrid('comparison (X = mismatch, ? = inconclusive)', g))
    .join('\n\n');
}

export function renderMismatches(list: Mismatch[]): string {
  return list
    .map(
      (m) => `${mismatchHead(m)}\n  model: ${m.reason || '-'}\n  probe: ${m.detail}\n  reproduce: ${m.repro}`,
    )
    .join('\n');
}

export function cellKey(c: { from: string; to: string; port: number }): string {
  return `${c.from}|${c.to}|${c.port}`;
}

export { expectedClass };
