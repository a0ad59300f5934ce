import { newestPatch } from './releases.ts';
import { compareVersions, minorDistance, minorKey, parseVersion, type IstioVersion } from './version.ts';

/**
 * The upgrade path A → B as hops, and the version-skew rule every intermediate state must keep.
 *
 * Facts (checked at their sources):
 * - Order within a hop: base (CRDs) → istiod → istio-cni → ztunnel. istio.io
 *   content/en/docs/ambient/upgrade/helm/index.md (in-place tab: `helm upgrade istio-base`, then
 *   istiod, then the CNI, then ztunnel); istio/istio@1.30.3 tests/integration/helm/upgrade/util.go
 *   upgradeCharts (base, istiod, cni, ztunnel, gateway).
 * - Skew: "The ztunnel at version 1.x is compatible with the control plane at version 1.x+1 and
 *   1.x." (same page, section "ztunnel DaemonSet" under "Upgrade the data plane") and "The CNI at
 *   version 1.x is compatible with the control plane at version 1.x+1 and 1.x." (section "CNI node
 *   agent"), so istiod goes first and the two may differ by at most one minor; "the data plane
 *   cannot be ahead of control plane" (content/en/docs/releases/supported-releases/index.md,
 *   section "Control Plane/Data Plane Skew").
 * - So a minor may not be skipped: 1.28 → 1.30 leaves istiod at 1.30 with ztunnel and the CNI at
 *   1.28 (two minors) until their turn.
 */

export const CHART_ORDER = ['base', 'istiod', 'cni', 'ztunnel'] as const;
export type Chart = (typeof CHART_ORDER)[number];

export interface HopStep {
  chart: Chart;
  from: string;
  to: string;
}

/** A state of the four charts, after a step. */
export type ChartVersions = Record<Chart, string>;

export interface SkewProblem {
  /** The step after which the state is illegal. */
  after: HopStep;
  state: ChartVersions;
  /** One sentence: which component is how far from istiod. */
  problem: string;
}

export interface Hop {
  from: string;
  to: string;
  steps: HopStep[];
  /** The states after each step that break the skew rule (empty for a legal hop). */
  skew: SkewProblem[];
}

/** The legal path: one hop per minor, each to the newest known patch, the last to `to`. */
export function legalPath(from: IstioVersion, to: IstioVersion): string[] {
  const path = [from.text];
  for (let m = from.minor + 1; m < to.minor && from.major === to.major; m++) {
    const v = newestPatch(`${from.major}.${m}`);
    if (v === undefined) throw new Error(`no newest patch known for ${from.major}.${m}`);
    path.push(v);
  }
  path.push(to.text);
  return path;
}

function skewOf(state: ChartVersions): string | undefined {
  const istiod = parseVersion(state.istiod);
  for (const chart of ['cni', 'ztunnel'] as const) {
    const dp = parseVersion(state[chart]);
    if (compareVersions(dp, istiod) > 0)
      return `${chart} ${dp.text} is ahead of istiod ${istiod.text} (the data plane may not be ahead of the control plane)`;
    if (minorDistance(dp, istiod) > 1)
      return `${chart} ${dp.text} is ${minorDistance(dp, istiod)} minors behind istiod ${istiod.text} (at most one is supported)`;
  }
  return undefined;
}

/** The hops of a path of versions, each simulated chart by chart. */
export function hopsOf(path: readonly string[]): Hop[] {
  const hops: Hop[] = [];
  for (let i = 1; i < path.length; i++) {
    const from = path[i - 1] ?? '';
    const to = path[i] ?? '';
    const state: ChartVersions = { base: from, istiod: from, cni: from, ztunnel: from };
    const steps: HopStep[] = [];
    const skew: SkewProblem[] = [];
    for (const chart of CHART_ORDER) {
      state[chart] = to;
      const step = { chart, from, to };
      steps.push(step);
      const problem = skewOf(state);
      if (problem !== undefined) skew.push({ after: step, state: { ...state }, problem });
    }
    hops.push({ from, to, steps, skew });
  }
  return hops;
}

export interface PathChoice {
  /** The path checked: A, the stops, B. */
  path: string[];
  /** How it was chosen. */
  chosen: 'legal' | 'via' | 'direct';
  /** The legal path, for comparison and for the message when `path` breaks the rule. */
  legal: string[];
  hops: Hop[];
}

/**
 * The path to check: the legal one unless the user named stops (`via`) or asked for one hop
 * (`direct`). Versions must already be valid and increasing (the CLI refuses others).
 */
export function choosePath(
  from: string,
  to: string,
  opts: { via?: string[]; direct?: boolean } = {},
): PathChoice {
  const a = parseVersion(from);
  const b = parseVersion(to);
  const legal = legalPath(a, b);
  let path = legal;
  let chosen: PathChoice['chosen'] = 'legal';
  if (opts.direct) {
    path = [from, to];
    chosen = 'direct';
  } else if (opts.via !== undefined && opts.via.length > 0) {
    path = [from, ...opts.via, to];
    chosen = 'via';
  }
  return { path, chosen, legal, hops: hopsOf(path) };
}

/** "1.28.3 → 1.29.8 → 1.30.5" */
export function describePath(path: readonly string[]): string {
  return path.join(' → ');
}

/** Minors of a path, in order, without repeats ("1.28", "1.29", …). */
export function minorsOf(path: readonly string[]): string[] {
  return [...new Set(path.map((v) => minorKey(v)))];
}
