#!/usr/bin/env -S node --import tsx
/**
 * Reachability model benchmark: `npm run bench`.
 * - the homelab matrix (examples/netpol/homelab.yaml): target milliseconds;
 * - a synthetic 1,000-pod, 300-policy cluster with 2 ports: target at most 2 s on one core.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifests } from '../harness/reachability/manifests.ts';
import { ReachabilityModel } from '../harness/reachability/model.ts';
import { syntheticCluster } from '../harness/reachability/synthetic.ts';
import { layoutModel } from '../harness/netpol/layout.ts';
import { documentedPolicies } from '../harness/netpol/policies.ts';
import { loadProfile } from '../harness/profile/load.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export function timeIt<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

/** NETPOL-01's layout: the homelab profile's six meshed namespaces and the control one, with the documented policies. */
export function benchHomelab(): { ms: number; cells: number } {
  const profile = loadProfile(undefined, { env: {} });
  const meshed = profile.doc.mesh.meshedNamespaces;
  const calls = new Map(meshed.map((m) => [m, profile.doc.mesh.intent.find((e) => e.from === m)?.to ?? []]));
  const policies = documentedPolicies({
    calls,
    istioNamespace: 'istio-system',
    appPorts: [80, 81],
    runId: 'bench',
  });
  const all = [...meshed, 'control'];
  const r = timeIt(() =>
    layoutModel(
      all.map((name) => ({ name, meshed: name !== 'control' })),
      all.flatMap((ns) => [
        { ns, name: 'a' },
        { ns, name: 'a', client: true },
      ]),
      policies,
    ).matrix(),
  );
  return { ms: r.ms, cells: r.value.length };
}

export function benchExample(): { ms: number; cells: number } {
  const { state } = readManifests([path.join(ROOT, 'examples/netpol/homelab.yaml')]);
  const r = timeIt(() => new ReachabilityModel(state).matrix());
  return { ms: r.ms, cells: r.value.length };
}

export function benchSynthetic(pods = 1000, policies = 300): { ms: number; cells: number; allowed: number } {
  const state = syntheticCluster({ pods, policies });
  const r = timeIt(() => new ReachabilityModel(state).countAllowed());
  return { ms: r.ms, ...r.value };
}

/** The commands whose start time issue 11 bounds (target 300 ms each, Node's own start included). */
export const START_COMMANDS: string[][] = [
  ['--version'],
  ['list'],
  ['plan'],
  ['netpol', 'matrix', '-f', 'examples/netpol/homelab.yaml'],
];

/**
 * Wall time of `node bin/ambient-conformance.mjs <argv>` (ms), median of `runs` runs after one
 * warm-up, with this Node (the project's Node 24). `plan` probes kind and helm on PATH: those
 * processes are part of its start.
 */
export function benchStart(argv: string[], runs = 7): { median: number; all: number[] } {
  const bin = path.join(ROOT, 'bin', 'ambient-conformance.mjs');
  const once = () => {
    const t0 = performance.now();
    spawnSync(process.execPath, [bin, ...argv], { cwd: ROOT, stdio: 'ignore' });
    return performance.now() - t0;
  };
  once();
  const all = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return { median: all[Math.floor(all.length / 2)] ?? NaN, all };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const argv of START_COMMANDS) {
    const r = benchStart(argv);
    process.stdout.write(
      `start: ambient-conformance ${argv.join(' ')}: median ${r.median.toFixed(0)} ms of ${r.all.length} runs (target: <= 300 ms)\n`,
    );
  }
  const h = benchHomelab();
  process.stdout.write(
    `homelab matrix (NETPOL-01 layout, documented policies): ${h.cells} cells with reasons in ${h.ms.toFixed(2)} ms (target: milliseconds)\n`,
  );
  const e = benchExample();
  process.stdout.write(`examples/netpol/homelab.yaml: ${e.cells} cells in ${e.ms.toFixed(2)} ms\n`);
  const s = benchSynthetic();
  process.stdout.write(
    `synthetic 1000 pods x 300 policies x 2 ports: ${s.cells} cells (${s.allowed} allowed) in ${(s.ms / 1000).toFixed(2)} s (target: <= 2 s)\n`,
  );
  process.exitCode = s.ms <= 2000 ? 0 : 1;
}
