import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { RUN_ID_LABEL } from '../../harness/plan.ts';
import type { KubeObject, StoreEvent } from './apiserver.ts';
import { REPO_ROOT, TWIN_BIN, type Twin } from './twin.ts';

/** Runs of the real CLI against a twin, and what the tests read back from them. */

const BIN = path.join(REPO_ROOT, 'bin', 'ambient-conformance.mjs');

export interface RunOutcome {
  exitCode: number;
  out: string;
  ms: number;
  /** reports/<run>/ of this run. */
  dir: string;
  report: {
    summary: { result: string; passed: number; failed: number; skipped: number; [k: string]: unknown };
    results: Record<string, { status: string; reason?: string; message?: string }>;
    phases: { name: string; status: string }[];
    [k: string]: unknown;
  };
}

/**
 * Starts `ambient-conformance <args>` with the twin's environment (and `env` over it); reports go to
 * a fresh folder.
 */
export function startCli(
  twin: Twin,
  args: string[],
  opts: { timeoutMs: number; reportsDir?: string; env?: Record<string, string> },
): { child: ResultPromise; reportsDir: string } {
  const reportsDir = opts.reportsDir ?? mkdtempSync(path.join(twin.stateDir, 'reports-'));
  const child = execa(process.execPath, [BIN, ...args, '--reports-dir', reportsDir], {
    cwd: REPO_ROOT,
    env: twin.env(opts.env),
    extendEnv: false,
    reject: false,
    all: true,
    timeout: opts.timeoutMs,
  });
  return { child, reportsDir };
}

/** The one run folder a CLI run wrote under reportsDir, and its JSON report. */
export function readRun(reportsDir: string): { dir: string; report: RunOutcome['report'] } {
  const runs = readdirSync(reportsDir).filter((d) => /^\d{8}-\d{6}-/.test(d));
  if (runs.length !== 1)
    throw new Error(`expected one run folder in ${reportsDir}, found ${runs.join(', ')}`);
  const dir = path.join(reportsDir, runs[0] ?? '');
  const file = path.join(dir, 'conformance-report.json');
  if (!existsSync(file)) throw new Error(`no conformance-report.json in ${dir}`);
  return { dir, report: JSON.parse(readFileSync(file, 'utf8')) as RunOutcome['report'] };
}

export async function runCli(twin: Twin, args: string[], timeoutMs: number): Promise<RunOutcome> {
  const t0 = Date.now();
  const { child, reportsDir } = startCli(twin, args, { timeoutMs });
  const r = await child;
  const ms = Date.now() - t0;
  const out = String(r.all ?? '');
  const { dir, report } = readRun(reportsDir);
  return { exitCode: r.exitCode ?? -1, out, ms, dir, report };
}

/**
 * Watches the twin's store for objects a run labels with its run ID: which were created, and
 * which still exist. A run must leave none behind.
 */
export class RunObjects {
  private readonly live = new Map<string, string>();
  readonly created = new Set<string>();
  private readonly stop: () => void;
  constructor(twin: Twin) {
    this.stop = twin.store.watch((e: StoreEvent) => {
      const o: KubeObject = e.object;
      if (e.type === 'DELETED' && e.resource.resource === 'nodes' && this.atClusterDeletion === undefined)
        this.atClusterDeletion = this.left();
      const run = o.metadata.labels?.[RUN_ID_LABEL];
      if (!run) return;
      const key = `${e.resource.group || 'core'}/${e.resource.resource} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name ?? ''}`;
      if (e.type === 'DELETED') this.live.delete(key);
      else {
        this.live.set(key, run);
        this.created.add(key);
      }
    });
  }
  /**
   * Objects labelled by the run that existed when the first Node was deleted (the cluster going
   * away), or undefined when no node was deleted: what the run's own cleanup left to `kind delete`.
   */
  atClusterDeletion: string[] | undefined;
  /** Objects labelled by the run that still exist. */
  left(): string[] {
    return [...this.live.keys()].sort();
  }
  close(): void {
    this.stop();
  }
}

/** What the twin's `kind get clusters` prints (stdout and stderr): the cluster names or kind's "none" line. */
export async function kindClusters(twin: Twin): Promise<string> {
  const r = await execa(path.join(TWIN_BIN, 'kind'), ['get', 'clusters'], {
    env: twin.env(),
    extendEnv: false,
    reject: false,
    all: true,
  });
  return String(r.all ?? '').trim();
}
