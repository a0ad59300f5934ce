/**
 * Istio versions as the upgrade plan compares them: `1.28.3` → { major 1, minor 28, patch 3 },
 * pre-releases (`1.31.0-rc.0`) sort before their release. The forms accepted are those of
 * harness/istio/versions.ts (istioVersionProblem), which `upgrade plan` checks first.
 */
export interface IstioVersion {
  major: number;
  minor: number;
  patch: number;
  /** `rc.0`, `beta.1`, …; undefined for a release. */
  pre?: string;
  /** As written, e.g. "1.28.3". */
  text: string;
}

const RE = /^(\d+)\.(\d+)\.(\d+)(?:-((?:alpha|beta|rc)\.\d+))?$/;

/** Parses a version already checked by istioVersionProblem; throws on anything else (a bug). */
export function parseVersion(text: string): IstioVersion {
  const m = RE.exec(text);
  if (!m) throw new Error(`not an Istio version: ${text}`);
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    ...(m[4] === undefined ? {} : { pre: m[4] }),
    text,
  };
}

/** "1.28" */
export function minorKey(v: IstioVersion | string): string {
  const p = typeof v === 'string' ? parseVersion(v) : v;
  return `${p.major}.${p.minor}`;
}

/** A number that orders minors across majors (1.28 → 1028). */
export function minorIndex(v: IstioVersion): number {
  return v.major * 1000 + v.minor;
}

const PRE_ORDER: Record<string, number> = { alpha: 0, beta: 1, rc: 2 };

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: IstioVersion | string, b: IstioVersion | string): number {
  const x = typeof a === 'string' ? parseVersion(a) : a;
  const y = typeof b === 'string' ? parseVersion(b) : b;
  const d = minorIndex(x) - minorIndex(y) || x.patch - y.patch;
  if (d !== 0) return d;
  if (x.pre === undefined || y.pre === undefined)
    return (x.pre === undefined ? 1 : 0) - (y.pre === undefined ? 1 : 0);
  const [xk = '', xn = '0'] = x.pre.split('.');
  const [yk = '', yn = '0'] = y.pre.split('.');
  return (PRE_ORDER[xk] ?? 0) - (PRE_ORDER[yk] ?? 0) || Number(xn) - Number(yn);
}

/** Minors between two versions: 1.28.3 → 1.30.5 is 2. */
export function minorDistance(from: IstioVersion, to: IstioVersion): number {
  return minorIndex(to) - minorIndex(from);
}
