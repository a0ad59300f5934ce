import type { ClusterState, NetworkPolicyInfo, PodInfo } from './types.ts';

/** A deterministic pseudo-random generator (mulberry32), so benchmarks and generated cases are repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A synthetic cluster for benchmarks: `pods` pods over `namespaces` namespaces (half of them
 * meshed), each serving two ports, and `policies` NetworkPolicies mixing ingress and egress rules
 * with pod/namespace selectors, matchExpressions, numeric and named ports, and ipBlocks.
 */
export function syntheticCluster(opts: {
  pods: number;
  policies: number;
  namespaces?: number;
  seed?: number;
}): ClusterState {
  const r = rng(opts.seed ?? 42);
  const nsCount = opts.namespaces ?? 30;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const apps = ['web', 'api', 'db', 'cache', 'worker', 'metrics', 'auth', 'queue'];
  const tiers = ['frontend', 'backend', 'data'];
  const namespaces = Array.from({ length: nsCount }, (_, i) => ({
    name: `ns-${i}`,
    labels: {
      team: `team-${i % 7}`,
      env: i % 3 === 0 ? 'prod' : 'dev',
      ...(i % 2 === 0 ? { 'istio.io/dataplane-mode': 'ambient' } : {}),
    },
  }));
  const pods: PodInfo[] = Array.from({ length: opts.pods }, (_, i) => ({
    namespace: `ns-${i % nsCount}`,
    name: `pod-${i}`,
    labels: { app: pick(apps), tier: pick(tiers), ...(r() < 0.1 ? { canary: 'true' } : {}) },
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
  }));
  const policies: NetworkPolicyInfo[] = Array.from({ length: opts.policies }, (_, i) => {
    const ns = `ns-${Math.floor(r() * nsCount)}`;
    const peer = () =>
      r() < 0.15
        ? {
            ipBlock: {
              cidr: `10.0.${Math.floor(r() * 4)}.0/24`,
              except: [`10.0.${Math.floor(r() * 4)}.${Math.floor(r() * 255)}/32`],
            },
          }
        : r() < 0.5
          ? {
              namespaceSelector: { matchLabels: { team: `team-${Math.floor(r() * 7)}` } },
              podSelector: { matchLabels: { app: pick(apps) } },
            }
          : {
              podSelector: {
                matchExpressions: [
                  { key: 'tier', operator: 'In' as const, values: [pick(tiers), pick(tiers)] },
                ],
              },
            };
    const ports = () =>
      r() < 0.3
        ? undefined
        : [{ port: r() < 0.5 ? 8080 : 'metrics' }, ...(r() < 0.5 ? [{ port: 15008 }] : [])];
    const rule = () => ({
      peers: Array.from({ length: 1 + Math.floor(r() * 3) }, peer),
      ...(ports() ? { ports: ports() } : {}),
    });
    const types: ('Ingress' | 'Egress')[] =
      r() < 0.6 ? ['Ingress'] : r() < 0.5 ? ['Egress'] : ['Ingress', 'Egress'];
    return {
      namespace: ns,
      name: `np-${i}`,
      podSelector: r() < 0.3 ? {} : { matchLabels: { app: pick(apps) } },
      policyTypes: types,
      ingress: types.includes('Ingress') ? Array.from({ length: 1 + Math.floor(r() * 2) }, rule) : [],
      egress: types.includes('Egress') ? Array.from({ length: 1 + Math.floor(r() * 2) }, rule) : [],
    };
  });
  return { namespaces, pods, networkPolicies: policies };
}
