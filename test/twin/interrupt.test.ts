import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeftoversRecord } from '../../harness/cleanup.ts';
import { pollUntil } from '../../harness/wait.ts';
import { runtimeProcesses } from './pods.ts';
import { kindClusters as listKindClusters, readRun, RunObjects, startCli } from './run-helpers.ts';
import { startTwin, TWIN_BIN, type Gate, type Twin } from './twin.ts';

/**
 * The interruption tests of cli/interrupt*.contract.test.ts, again on the twin (issue 12): a kind
 * run is caught inside each of its phases, sent SIGINT or SIGTERM, and must exit 130/143 with
 * reports that say "interrupted by <signal> during <phase>", after its cleanup deleted the kind
 * cluster: no Node left in the twin, `kind get clusters` empty, nothing the run labelled left, no
 * process of the run left (its kind, helm and docker, Vitest's workers, the twin's pod processes).
 *
 * "Inside the phase" is made certain by holding the run there until the signal is sent: either an
 * API request of that phase is held by the twin's API server (twin.gate), or a tool of that phase
 * is a wrapper first on PATH that blocks (docker info in preflight; kind create in cluster, which
 * blocks after it has created the cluster, so the cluster exists while kind create still runs).
 * One twin serves every case in turn; each case leaves it empty for the next.
 */

const SECOND = 1000;
type Signal = 'SIGINT' | 'SIGTERM';
const CODE: Record<Signal, number> = { SIGINT: 130, SIGTERM: 143 };

let twin: Twin;
beforeAll(async () => {
  twin = await startTwin();
});
afterAll(async () => twin?.close());

type Match = (req: http.IncomingMessage, url: URL) => boolean;

/** Where the run is held: an API request (twin.gate) or a tool (a blocking wrapper on PATH). */
type Hold =
  | { api: () => Match; what: string }
  | { tool: 'docker' | 'kind'; args: string; after: boolean; what: string };

interface Case {
  phase: string;
  signal: Signal;
  hold: Hold;
  /** Only in the full matrix (TWIN_INTERRUPT=all): the other signal of a phase already covered. */
  extra?: true;
}

/** The `nth` request (default the first) of `method` on a path matching `pathname` (and `query`). */
const api =
  (method: string, pathname: RegExp, query: Record<string, string> = {}, nth = 1) =>
  (): Match => {
    let seen = 0;
    return (req, url) =>
      req.method === method &&
      pathname.test(url.pathname) &&
      Object.entries(query).every(([k, v]) => url.searchParams.get(k) === v) &&
      ++seen === nth;
  };

const DOCKER_INFO: Hold = {
  tool: 'docker',
  args: 'info',
  after: false,
  what: 'docker info (the daemon check)',
};
const KIND_CREATE: Hold = {
  tool: 'kind',
  args: 'create',
  after: true,
  what: 'kind create cluster, which has created the cluster and not exited yet',
};
// The first GET /version is cluster.api's (the twin's tools never ask), the second Vitest's global setup's.
const VERSION: Hold = {
  api: api('GET', /^\/version$/),
  what: 'the API server version read after kind create',
};
const METRICS_SERVER: Hold = {
  api: api('POST', /^\/apis\/apps\/v1\/namespaces\/kube-system\/deployments$/),
  what: "helm install metrics-server's Deployment create",
};
const NAMESPACES: Hold = {
  // The first meshed namespace, default, is labelled and loki created with the run's label by then.
  api: api('GET', /^\/api\/v1\/namespaces\/localstack$/),
  what: 'the read of namespace localstack, before its create',
};
const ISTIOD: Hold = {
  api: api('POST', /^\/apis\/apps\/v1\/namespaces\/istio-system\/deployments$/),
  what: "helm install istiod's Deployment create (istio-base is installed)",
};
const INSTALL_01: Hold = {
  api: api('GET', /^\/api\/v1\/namespaces\/istio-system\/secrets$/, { labelSelector: 'owner=helm' }),
  what: "INSTALL-01's list of the Helm release Secrets, in a Vitest worker",
};
const GLOBAL_SETUP: Hold = {
  api: api('GET', /^\/version$/, {}, 2),
  what: "Vitest's global setup reading the API server version, before any worker starts",
};
const KIND_DELETE: Hold = {
  api: api('DELETE', /^\/api\/v1\/nodes\/[^/]+$/),
  what: "kind delete's first Node delete",
};

const ALL_CASES: Case[] = [
  { phase: 'preflight', signal: 'SIGINT', hold: DOCKER_INFO },
  { phase: 'preflight', signal: 'SIGTERM', hold: DOCKER_INFO, extra: true },
  { phase: 'cluster', signal: 'SIGTERM', hold: KIND_CREATE },
  { phase: 'cluster', signal: 'SIGINT', hold: VERSION, extra: true },
  { phase: 'addons', signal: 'SIGINT', hold: METRICS_SERVER },
  { phase: 'addons', signal: 'SIGTERM', hold: METRICS_SERVER, extra: true },
  { phase: 'workloads', signal: 'SIGTERM', hold: NAMESPACES },
  { phase: 'workloads', signal: 'SIGINT', hold: NAMESPACES, extra: true },
  { phase: 'istio', signal: 'SIGINT', hold: ISTIOD },
  { phase: 'istio', signal: 'SIGTERM', hold: ISTIOD, extra: true },
  { phase: 'tests', signal: 'SIGINT', hold: INSTALL_01 },
  { phase: 'tests', signal: 'SIGTERM', hold: GLOBAL_SETUP },
  { phase: 'cleanup', signal: 'SIGTERM', hold: KIND_DELETE },
  { phase: 'cleanup', signal: 'SIGINT', hold: KIND_DELETE, extra: true },
];
/**
 * By default every phase once, with both signals in tests (a claim cut off in a worker, and Vitest
 * stopped in its global setup): 8 runs, to keep `npm test` within 10 minutes, while
 * cli/interrupt-phases.contract.test.ts covers every phase with both signals on fakes.
 * TWIN_INTERRUPT=all runs both signals in every phase (14 runs).
 */
const CASES = process.env.TWIN_INTERRUPT === 'all' ? ALL_CASES : ALL_CASES.filter((c) => !c.extra);

const kindClusters = () => listKindClusters(twin);

/** Processes of this twin's runs: the twin's environment (TWIN_STATE_DIR) or its paths in argv. */
function runProcesses(): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'latin1').split('\0');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
      if (env.includes(`TWIN_STATE_DIR=${twin.stateDir}`) || cmd.includes(twin.stateDir))
        out.push(`${d} ${cmd}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A wrapper of the twin's tool that blocks on `args` (before or after running it), recording its PID. */
function blockingTool(dir: string, hold: Extract<Hold, { tool: string }>, pidFile: string): void {
  const real = path.join(TWIN_BIN, hold.tool);
  const block = `echo $$ > '${pidFile}'; exec sleep 300`;
  writeFileSync(
    path.join(dir, hold.tool),
    [
      '#!/bin/sh',
      `if [ "$1" = '${hold.args}' ]; then`,
      hold.after ? `  '${real}' "$@"; ${block}` : `  ${block}`,
      'fi',
      `exec '${real}' "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(path.join(dir, hold.tool), 0o755);
}

function leftoversRecord(reportsDir: string): LeftoversRecord | undefined {
  const [run] = existsSync(reportsDir) ? readdirSync(reportsDir).filter((d) => /^\d{8}-/.test(d)) : [];
  const file = path.join(reportsDir, run ?? '', 'leftovers.json');
  return run && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LeftoversRecord) : undefined;
}

/** The clusters the twin's kind has a record of ($TWIN_STATE_DIR/kind/<name>.json). */
function kindRecords(): string[] {
  const dir = path.join(twin.stateDir, 'kind');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

const leftProcesses = () => [
  ...runProcesses(),
  ...runtimeProcesses(twin.runtime.tag).map((pid) => `${pid} (a pod's process)`),
];

/** Whatever a failed case left (processes, a cluster), removed so that the next case starts clean. */
async function scrub(): Promise<void> {
  for (const p of runProcesses()) {
    try {
      process.kill(Number(p.split(' ')[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const record of kindRecords())
    await execa(
      path.join(TWIN_BIN, 'kind'),
      ['delete', 'cluster', '--name', record.slice(0, -'.json'.length)],
      {
        env: twin.env(),
        extendEnv: false,
        reject: false,
      },
    );
}

describe('interrupting a kind run on the twin in each phase', () => {
  it.each(CASES)(
    '$signal during $phase: exits with its code, the report says so, the cluster is deleted and nothing is left',
    async (c) => {
      const code = CODE[c.signal];
      const work = mkdtempSync(path.join(twin.stateDir, 'hold-'));
      const pidFile = path.join(work, 'held.pid');
      const env: Record<string, string> = {};
      let gate: Gate | undefined;
      let heldRequest: string | undefined;
      if ('tool' in c.hold) {
        blockingTool(work, c.hold, pidFile);
        env.PATH = `${work}${path.delimiter}${twin.env().PATH}`;
      } else {
        gate = twin.gate(c.hold.api());
        void gate.held.then((h) => (heldRequest = h));
      }
      const objects = new RunObjects(twin);
      // The tests are no target before the tests phase; in cleanup they have run (all skipped).
      const args = c.phase === 'cleanup' ? ['--skip', '*'] : ['--only', 'INSTALL-01'];
      const started = Date.now();
      const { child, reportsDir } = startCli(twin, ['run', ...args], { timeoutMs: 120 * SECOND, env });
      let out = '';
      child.all?.on('data', (b: Buffer) => (out += b.toString()));
      let ended: string | undefined;
      void child.then((r) => (ended = `the run ended first (exit ${r.exitCode})\n${out}`));
      try {
        // Held inside the phase.
        const held = await pollUntil({
          what: `the run to be held at ${c.hold.what}`,
          timeoutMs: 60 * SECOND,
          intervalMs: 20,
          read: () =>
            Promise.resolve(
              gate ? heldRequest : existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : undefined,
            ),
          judge: (h) => ({ done: h !== undefined && h !== '', impossible: ended, seen: h ?? 'not yet' }),
        });
        const current = await pollUntil({
          what: `the run's progress to show the ${c.phase} phase`,
          timeoutMs: 5 * SECOND,
          intervalMs: 20,
          read: () => Promise.resolve([...out.matchAll(/▶ (\w+):/g)].at(-1)?.[1]),
          judge: (p) => ({ done: p === c.phase, seen: p ?? 'no phase yet' }),
        });
        expect(current).toBe(c.phase);
        const heldAfter = Date.now() - started;
        const running = leftProcesses().length;
        // From the cluster phase on, the cluster exists when the signal comes (in cluster: kind create made it).
        const nodes = twin.store.list({ group: '', resource: 'nodes' }).length;
        expect(nodes > 0, `nodes at the signal: ${nodes}`).toBe(c.phase !== 'preflight');

        const t0 = Date.now();
        process.kill(child.pid ?? 0, c.signal);
        if (c.phase === 'cleanup') {
          // The first signal does not stop cleanup: once the run has recorded the interruption,
          // kind delete goes on where it was held.
          const record = await pollUntil({
            what: 'the leftovers record of the interruption',
            timeoutMs: 20 * SECOND,
            intervalMs: 20,
            read: () => Promise.resolve(leftoversRecord(reportsDir)),
            judge: (l) => ({
              done: l?.state.includes('interrupted by') === true,
              impossible: ended,
              seen: l?.state ?? 'none yet',
            }),
          });
          // It names the cluster whose deletion is under way.
          expect(record?.left.map((l) => l.what)).toEqual([
            expect.stringMatching(/^delete kind cluster ambient-conformance-/),
          ]);
          expect(gate?.release(), 'kind delete is still there to go on').toBe('delivered');
        }
        const r = await child;
        const ms = Date.now() - t0;
        process.stderr.write(
          `twin: ${c.signal} during ${c.phase}, held at ${held} ${(heldAfter / SECOND).toFixed(1)}s after the start (${running} processes of the run and its pods, ${nodes} nodes): exit ${r.exitCode} ${(ms / SECOND).toFixed(1)}s after the signal\n`,
        );
        expect(r.exitCode, out).toBe(code);
        expect(ms, 'the run ends soon after the signal').toBeLessThan(20 * SECOND);
        if (gate && c.phase !== 'cleanup') {
          // Its client (the run, its helm, a Vitest worker) was stopped: the request never gets through.
          await pollUntil({
            what: `the client of the held ${held} to be gone`,
            timeoutMs: 3 * SECOND,
            intervalMs: 20,
            read: () => Promise.resolve(gate?.abandoned() ?? true),
            judge: (gone) => ({ done: gone, seen: gone ? 'gone' : 'still connected' }),
          });
          expect(gate.release()).toBe('dropped');
        }
        if (!gate) expect(alive(Number(held)), `the held ${c.hold.what} was stopped`).toBe(false);

        // The reports.
        const { dir, report } = readRun(reportsDir);
        const what = `interrupted by ${c.signal} during ${c.phase}`;
        expect(report.summary.result).toBe('interrupted');
        expect(report.phases.find((p) => p.status === 'interrupted')).toMatchObject({
          name: c.phase,
          detail: c.phase === 'cleanup' ? `${what}; it went on and finished` : what,
        });
        // A claim the signal cut off never ran: NOT RUN with the interruption, not Vitest's skip.
        if (c.phase === 'tests')
          expect(report.results['INSTALL-01']).toMatchObject({
            status: 'NOT RUN',
            reason: `not run: ${what}`,
          });
        // Cleanup ran after the signal; a signal in cleanup itself lets it go on and its record says
        // it finished (one cleanup, not a second one started by the signal).
        if (c.phase !== 'cleanup')
          expect(report.phases.at(-1)).toMatchObject({ name: 'cleanup', status: 'passed' });
        else {
          expect(report.phases.filter((p) => p.name === 'cleanup')).toHaveLength(1);
          expect(report.phases.at(-1)).toMatchObject({
            name: 'cleanup',
            status: 'interrupted',
            detail: `${what}; it went on and finished`,
          });
        }
        expect(readFileSync(path.join(dir, 'summary.md'), 'utf8')).toContain(what);
        const left = JSON.parse(readFileSync(path.join(dir, 'leftovers.json'), 'utf8')) as LeftoversRecord;
        expect(left).toMatchObject({ state: `${what}; cleanup finished`, left: [] });

        // The twin: no cluster, nothing labelled, no process.
        expect(twin.store.list({ group: '', resource: 'nodes' })).toEqual([]);
        expect(await kindClusters()).toBe('No kind clusters found.');
        expect(kindRecords()).toEqual([]);
        if (['workloads', 'istio', 'tests', 'cleanup'].includes(c.phase))
          expect(objects.created.size, 'the run had labelled what it created').toBeGreaterThan(0);
        expect(objects.left()).toEqual([]);
        // SIGKILLed processes may take a moment to be reaped.
        const processes = await pollUntil({
          what: 'the run’s processes to be gone',
          timeoutMs: 3 * SECOND,
          intervalMs: 50,
          read: () => Promise.resolve(leftProcesses()),
          judge: (ps) => ({ done: ps.length === 0, seen: ps.join('\n') }),
        }).catch(() => leftProcesses());
        expect(processes).toEqual([]);
      } finally {
        objects.close();
        gate?.release();
        if (ended === undefined) child.kill('SIGKILL');
        await child;
        await scrub();
      }
    },
    90 * SECOND,
  );
});
