import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
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
  /**
   * For tests: holds the next API request that `match` accepts (only that one) until `release`,
   * so that a run can be caught inside a step (interrupt.test.ts).
   */
  gate(match: (req: http.IncomingMessage, url: URL) => boolean): Gate;
  close(): Promise<void>;
}

/** An API request held by twin.gate. */
export interface Gate {
  /** Resolves with "<METHOD> <path>" once a matching request is held. */
  held: Promise<string>;
  /** Whether the held request's client has closed its connection (e.g. its process was killed). */
  abandoned(): boolean;
  /**
   * Passes the held request on to the API server, unless its client is gone (then it is dropped,
   * as it never reached the server); stops holding. Returns what happened to it.
   */
  release(): 'delivered' | 'dropped' | 'none';
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
  // Floors are bounds on work the twin really does (processes, execs, probe rounds), which a
  // loaded 2-CPU machine slows down; they cost nothing when things go right.
  const floors: Partial<Record<TimeoutKey, number>> = {
    dataplaneConvergence: 20_000,
    ztunnelProgrammed: 10_000,
    meshEnrollment: 10_000,
    podReady: 20_000,
    nodesReady: 10_000,
    namespaceDelete: 10_000,
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
  // twin.gate: armed gates hold their first matching request; a released one is dispatched again.
  const gates = new Set<(req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean>();
  const passing = new WeakSet<http.IncomingMessage>();
  const api = await startTwinApiServer({
    crds: [],
    handle: (req, res, url) => !passing.has(req) && [...gates].some((g) => g(req, res, url)),
  });
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
      // Every node process of the run (CLI, Vitest workers, the twin's tools) reuses compiled
      // code, as the CLI already does for itself (bin/ambient-conformance.mjs).
      NODE_COMPILE_CACHE: path.join(os.tmpdir(), 'node-compile-cache'),
      NO_COLOR: '1',
      ...scaledTimeouts(opts.timeScale, metricResolutionMs),
      ...extra,
    }),
    gate(match) {
      let held: { req: http.IncomingMessage; res: http.ServerResponse } | undefined;
      let gone = false;
      let onHeld: (what: string) => void = () => undefined;
      const gate = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
        if (!match(req, url)) return false;
        gates.delete(gate);
        held = { req, res };
        res.on('close', () => (gone = !res.writableEnded));
        onHeld(`${req.method ?? 'GET'} ${url.pathname}${url.search}`);
        return true;
      };
      gates.add(gate);
      return {
        held: new Promise<string>((resolve) => (onHeld = resolve)),
        abandoned: () => gone,
        release() {
          gates.delete(gate);
          if (!held) return 'none';
          const { req, res } = held;
          held = undefined;
          if (gone || req.socket.destroyed) return 'dropped';
          passing.add(req);
          api.server.emit('request', req, res);
          return 'delivered';
        },
      };
    },
    async close() {
      gates.clear();
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
