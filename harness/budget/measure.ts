import { formatBytes, formatMillicores, parseQuantity } from '../quantity.ts';

/**
 * Resource budgets from metrics.k8s.io PodMetrics (metrics-server): CPU is a rate over the
 * sample window (e.g. "1234567n" nanocores), memory the working set (e.g. "12345Ki"). A pod
 * appears only after two scrapes.
 */
export type Component = 'istiod' | 'istioCniNode' | 'ztunnel';

export const COMPONENT_LABEL: Record<Component, [string, string]> = {
  istiod: ['app', 'istiod'],
  istioCniNode: ['k8s-app', 'istio-cni-node'],
  ztunnel: ['app', 'ztunnel'],
};

export interface PodMetricJson {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  timestamp?: string;
  window?: string;
  containers: { name: string; usage: { cpu: string; memory: string } }[];
}

export interface Sample {
  pod: string;
  component: Component | undefined;
  cpuMillicores: number;
  memoryBytes: number;
  at: string;
}

export function componentOf(
  labels: Record<string, string> | undefined,
  podName: string,
): Component | undefined {
  for (const [c, [k, v]] of Object.entries(COMPONENT_LABEL) as [Component, [string, string]][])
    if (labels?.[k] === v) return c;
  // metrics-server copies no labels in older versions: fall back to the chart-fixed name prefixes.
  if (podName.startsWith('istiod-')) return 'istiod';
  if (podName.startsWith('istio-cni-node-')) return 'istioCniNode';
  if (podName.startsWith('ztunnel-')) return 'ztunnel';
  return undefined;
}

export function toSamples(items: PodMetricJson[]): Sample[] {
  return items.map((m) => ({
    pod: m.metadata.name,
    component: componentOf(m.metadata.labels, m.metadata.name),
    cpuMillicores: m.containers.reduce((n, c) => n + (parseQuantity(c.usage.cpu, 'cpu') ?? 0), 0),
    memoryBytes: m.containers.reduce((n, c) => n + (parseQuantity(c.usage.memory, 'memory') ?? 0), 0),
    at: m.timestamp ?? '',
  }));
}

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export interface ComponentUsage {
  component: Component;
  instances: number;
  /** Per instance: median and maximum over the window, then the worst instance. */
  cpuMedian: number;
  cpuMax: number;
  memoryMedian: number;
  memoryMax: number;
  /** Sum over instances of each instance's median. */
  cpuTotal: number;
  memoryTotal: number;
  samples: number;
}

export function summarize(samples: Sample[]): Map<Component, ComponentUsage> {
  const out = new Map<Component, ComponentUsage>();
  for (const component of Object.keys(COMPONENT_LABEL) as Component[]) {
    const mine = samples.filter((s) => s.component === component);
    const pods = [...new Set(mine.map((s) => s.pod))];
    const per = pods.map((p) => {
      const ss = mine.filter((s) => s.pod === p);
      return {
        cpuMed: median(ss.map((s) => s.cpuMillicores)),
        cpuMax: Math.max(...ss.map((s) => s.cpuMillicores)),
        memMed: median(ss.map((s) => s.memoryBytes)),
        memMax: Math.max(...ss.map((s) => s.memoryBytes)),
      };
    });
    out.set(component, {
      component,
      instances: pods.length,
      cpuMedian: Math.max(0, ...per.map((p) => p.cpuMed)),
      cpuMax: Math.max(0, ...per.map((p) => p.cpuMax)),
      memoryMedian: Math.max(0, ...per.map((p) => p.memMed)),
      memoryMax: Math.max(0, ...per.map((p) => p.memMax)),
      cpuTotal: per.reduce((n, p) => n + p.cpuMed, 0),
      memoryTotal: per.reduce((n, p) => n + p.memMed, 0),
      samples: mine.length,
    });
  }
  return out;
}

export interface Budget {
  cpu: number;
  memory: number;
}

/** The runbook's figures (per instance unless noted), for the side-by-side table. */
export const DOCUMENTED: Record<
  Component,
  { cpu: string; memory: string; measured: string; cpuRange: [number, number]; memoryRange: [number, number] }
> = {
  istiod: {
    cpu: '~6m',
    memory: '~35Mi',
    measured: '~3m / ~39Mi (1 instance)',
    cpuRange: [1, 12],
    memoryRange: [30 * 2 ** 20, 45 * 2 ** 20],
  },
  istioCniNode: {
    cpu: '~1m',
    memory: '~12-15Mi per node',
    measured: '~5m / ~68Mi for 5 (≈1m / ≈14Mi each)',
    cpuRange: [0.5, 3],
    memoryRange: [10 * 2 ** 20, 18 * 2 ** 20],
  },
  ztunnel: {
    cpu: '~1-2m',
    memory: '~1-2Mi per node',
    measured: '~30m / ~38Mi for 5 (≈6m / ≈7.6Mi each)',
    cpuRange: [0.5, 8],
    memoryRange: [1 * 2 ** 20, 2 * 2 ** 20],
  },
};

export interface BudgetRow {
  component: Component;
  documented: string;
  budget: string;
  measured: string;
  withinBudget: boolean;
  problems: string[];
  /** Where the documentation's figure is off from what was measured (by more than 2x). */
  docNote?: string;
}

/**
 * BUDGET-01: a component is within budget when every instance's median CPU over the window and its
 * maximum working-set memory stay under the profile's per-instance budget.
 */
export function evaluateBudgets(
  usage: Map<Component, ComponentUsage>,
  budgets: Record<Component, Budget>,
): BudgetRow[] {
  return (Object.keys(COMPONENT_LABEL) as Component[]).map((c) => {
    const u = usage.get(c);
    const b = budgets[c];
    const doc = DOCUMENTED[c];
    const problems: string[] = [];
    if (!u || u.instances === 0)
      problems.push(`${c}: no PodMetrics (is metrics-server serving istio-system?)`);
    else {
      if (u.cpuMedian > b.cpu)
        problems.push(
          `${c}: median CPU ${formatMillicores(u.cpuMedian)} per instance exceeds the budget ${formatMillicores(b.cpu)}`,
        );
      if (u.memoryMax > b.memory)
        problems.push(
          `${c}: memory ${formatBytes(u.memoryMax)} per instance exceeds the budget ${formatBytes(b.memory)}`,
        );
    }
    let docNote: string | undefined;
    if (u && u.instances > 0) {
      const [, memHi] = doc.memoryRange;
      const [, cpuHi] = doc.cpuRange;
      const notes: string[] = [];
      if (u.memoryMedian > 2 * memHi)
        notes.push(`memory ${formatBytes(u.memoryMedian)} vs documented ${doc.memory}`);
      if (u.cpuMedian > 2 * cpuHi)
        notes.push(`CPU ${formatMillicores(u.cpuMedian)} vs documented ${doc.cpu}`);
      if (notes.length) docNote = `documentation understates ${c}: ${notes.join(', ')}`;
    }
    return {
      component: c,
      documented: `${doc.cpu} / ${doc.memory} (measured there: ${doc.measured})`,
      budget: `${formatMillicores(b.cpu)} / ${formatBytes(b.memory)} per instance`,
      measured:
        u && u.instances
          ? `${u.instances}× median ${formatMillicores(u.cpuMedian)} (max ${formatMillicores(u.cpuMax)}) / ${formatBytes(u.memoryMedian)} (max ${formatBytes(u.memoryMax)}); total ${formatMillicores(u.cpuTotal)} / ${formatBytes(u.memoryTotal)}`
          : 'no data',
      withinBudget: problems.length === 0,
      problems,
      ...(docNote ? { docNote } : {}),
    };
  });
}

export function budgetTable(rows: BudgetRow[]): string {
  const lines = ['| component | runbook | budget | measured | verdict |', '|---|---|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| ${r.component} | ${r.documented} | ${r.budget} | ${r.measured} | ${r.withinBudget ? 'within' : 'OVER'}${r.docNote ? `; ${r.docNote}` : ''} |`,
    );
  return lines.join('\n');
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(points: { x: number; y: number }[]): { slope: number; intercept: number } {
  const n = points.length;
  if (n < 2) return { slope: 0, intercept: points[0]?.y ?? 0 };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

export interface CrossoverInput {
  /** Measured ambient memory that does not depend on pods: istiod + (cni + ztunnel) × nodes. */
  ambientFixedBytes: number;
  /** Measured ztunnel memory per additional meshed pod (all nodes together). */
  ambientPerPodBytes: number;
  sidecarPerPodBytes: [number, number];
  sidecarControlPlaneBytes: [number, number];
}

/**
 * BUDGET-04: the pod count above which ambient uses less memory than a sidecar mesh:
 * ambientFixed + perPod·n < sidecarCP + sidecar·n  ⇔  n > (ambientFixed − sidecarCP) / (sidecar − perPod).
 * Returned as the range over the sidecar mesh's figures (best case for sidecars first).
 */
export function crossover(i: CrossoverInput): { low: number; high: number } {
  const at = (perSidecar: number, cp: number) => {
    const gain = perSidecar - i.ambientPerPodBytes;
    if (gain <= 0) return Infinity;
    return Math.max(0, Math.ceil((i.ambientFixedBytes - cp) / gain + 1e-9));
  };
  const a = at(i.sidecarPerPodBytes[0], i.sidecarControlPlaneBytes[0]);
  const b = at(i.sidecarPerPodBytes[1], i.sidecarControlPlaneBytes[1]);
  return { low: Math.min(a, b), high: Math.max(a, b) };
}
