import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_TIMEOUTS, type TimeoutKey } from '../../harness/timeouts.ts';
import { startTwinApiServer, type TwinApiServer, type TwinStore } from './apiserver.ts';
import { startControllers, type ControllerOptions, type Controllers } from './controllers.ts';
import { attachPodRuntime, type PodRuntime } from './pods.ts';
import { Traffic } from './traffic.ts';
import { attachZtunnel } from './ztunnel.ts';

/**
 * The whole twin, as one object: the API server, the controllers, the pod runtime (exec and
 * port-forward with in-pod stand-ins answering from the dataplane), ztunnel's admin, logs and
 * metrics, and a state directory for the twin's kind, helm and docker executables.
 *
 *   const twin = await startTwin();
 *   await execa('node', ['bin/ambient-conformance.mjs', 'run'], { env: twin.env() });
 *   await twin.close();
 *
 * The cluster exists only once the twin's `kind create cluster` has created its nodes; until then
 * the API server answers with no nodes. `kind delete cluster` wipes the store, so one twin serves
 * several runs in turn (--reuse, existing-cluster mode).
 */
export interface Twin {
  api: TwinApiServer;
  store: TwinStore;
  traffic: Traffic;
  controllers: Controllers;
  /** The pods' processes (runtime.tag marks them, see runtimeProcesses). */
  runtime: PodRuntime;
  /** TWIN_STATE_DIR: api.json for the tools, their cluster records, the tool cache, HOME. */
  stateDir: string;
  /** The environment a CLI run on this twin gets (see twinEnv). */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export interface TwinOptions extends Omit<ControllerOptions, 'clusterName'> {
  /** Parent of the state directory (default the OS temp directory). */
  tmpDir?: string;
  /** Divide every timeout of the harness's table by this (default 20), see scaledTimeouts. */
  timeScale?: number;
}

export const TWIN_BIN = path.join(import.meta.dirname, 'tools', 'bin');
const REPO = path.join(import.meta.dirname, '..', '..');

/**
 * The timeout table a twin run uses, as AMBIENT_TIMEOUT_* variables: each default divided by
 * `scale`, with floors where the twin's work is real work (an exec spawns a shell, a helm
 * install spawns a process) rather than simulated time, and the pacing keys (poll interval, metric
 * resolution, windows) short so that nothing waits for simulated time on the wall clock.
 */
export function scaledTimeouts(scale = 20, metricResolutionMs = 100): Record<string, string> {
  const floors: Partial<Record<TimeoutKey, number>> = {
    preflight: 10_000,
    exec: 15_000,
    apiRequest: 15_000,
    probe: 12_000,
    helmInstall: 15_000,
    helmUninstall: 15_000,
    clusterCreate: 15_000,
    clusterDelete: 15_000,
    diagnostics: 10_000,
    logExport: 10_000,
    commandGrace: 5_000,
    bodySettle: 3_000,
  };
  const exact: Partial<Record<TimeoutKey, number>> = {
    pollInterval: 50,
    metricResolution: metricResolutionMs,
    readyHold: 500,
    budgetWindow: 4 * metricResolutionMs,
    memoryWindow: 3 * metricResolutionMs,
    // Two scrapes after start.
    metricsAvailable: 15_000,
  };
  const out: Record<string, string> = {};
  for (const [key, ms] of Object.entries(DEFAULT_TIMEOUTS) as [TimeoutKey, number][]) {
    const value = exact[key] ?? Math.max(Math.round(ms / scale), floors[key] ?? 0);
    out[`AMBIENT_TIMEOUT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] = `${value}ms`;
  }
  return out;
}

export async function startTwin(opts: TwinOptions = {}): Promise<Twin> {
  const stateDir = mkdtempSync(path.join(opts.tmpDir ?? os.tmpdir(), 'twin-'));
  const api = await startTwinApiServer({ crds: [] });
  const traffic = new Traffic();
  const metricResolutionMs = opts.metricResolutionMs ?? 100;
  const controllers = startControllers(api.store, { createNodes: false, ...opts, metricResolutionMs });
  const ztunnel = attachZtunnel({ store: api.store, traffic });
  const runtime = attachPodRuntime({
    server: api.server,
    store: api.store,
    traffic,
    scratchRoot: path.join(stateDir, 'pods'),
    portForward: (pod, port) => ztunnel.portForward(pod, port),
  });
  writeFileSync(path.join(stateDir, 'api.json'), JSON.stringify({ url: api.url }));
  const home = path.join(stateDir, 'home');
  mkdirSync(home, { recursive: true });

  return {
    api,
    store: api.store,
    traffic,
    controllers,
    runtime,
    stateDir,
    env: (extra = {}) => ({
      PATH: [TWIN_BIN, path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter),
      HOME: home,
      TWIN_STATE_DIR: stateDir,
      AMBIENT_TOOL_CACHE: path.join(stateDir, 'tools'),
      // No terminal: plain progress lines.
      CI: 'true',
      NO_COLOR: '1',
      ...scaledTimeouts(opts.timeScale, metricResolutionMs),
      ...extra,
    }),
    async close() {
      await runtime.close();
      ztunnel.stop();
      await controllers.stop();
      await api.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The repository root (for running bin/ambient-conformance.mjs against a twin). */
export const REPO_ROOT = REPO;
