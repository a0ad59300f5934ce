/**
 * Kubernetes resource quantities. CPU is returned in millicores, memory in bytes.
 * metrics.k8s.io reports CPU as e.g. "1234567n" (nanocores) and memory as "12345Ki".
 */
const CPU_SUFFIX: Record<string, number> = { n: 1e-6, u: 1e-3, m: 1, '': 1000 };
const MEM_SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

export function parseQuantity(text: string, what: 'cpu' | 'memory'): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  const table = what === 'cpu' ? CPU_SUFFIX : MEM_SUFFIX;
  const factor = table[m[2] ?? ''];
  return factor === undefined ? undefined : value * factor;
}

export function formatMillicores(m: number): string {
  return m >= 10 ? `${Math.round(m)}m` : `${m.toFixed(1)}m`;
}

export function formatBytes(bytes: number): string {
  const mi = bytes / 1024 ** 2;
  return mi >= 10 ? `${Math.round(mi)}Mi` : `${mi.toFixed(1)}Mi`;
}
