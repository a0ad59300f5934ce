import type { RunFacts } from '../facts.ts';
import type { PhaseRecord } from '../progress.ts';

export type ResultStatus = 'PASS' | 'FAIL' | 'SKIP' | 'NOT RUN';

export interface TestResultRecord {
  id: string;
  suite: string;
  claim: string;
  status: ResultStatus;
  /** Skip note, or the first line of the failure. */
  reason?: string;
  durationMs: number;
  errors?: string[];
}

export interface CatalogEntry {
  id: string;
  suite: string;
  claim: string;
}

const NAME = /^([A-Z]+-\d{2}) (.*)$/s;

/** "INSTALL-01 the four releases…" -> id and claim. */
export function splitTestName(name: string): { id: string; claim: string } | undefined {
  const m = NAME.exec(name);
  return m ? { id: m[1] ?? '', claim: m[2] ?? '' } : undefined;
}

/**
 * Merges Vitest's results with the catalog: every catalogued test appears exactly once; one that
 * never ran (setup failed, run interrupted) is NOT RUN with the reason.
 */
export function mergeWithCatalog(
  catalog: CatalogEntry[],
  results: TestResultRecord[],
  notRunReason: string,
): TestResultRecord[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const merged: TestResultRecord[] = catalog.map(
    (c) => byId.get(c.id) ?? { ...c, status: 'NOT RUN', reason: notRunReason, durationMs: 0 },
  );
  for (const r of results) if (!catalog.some((c) => c.id === r.id)) merged.push(r);
  return merged;
}

/**
 * The note Vitest gives every test still pending when a run is cancelled (@vitest/runner 4.1.12
 * startTests: `new TestRunAbortError("The test run was aborted by the user.")`, then
 * markPendingTasksAsSkipped with its message).
 */
export const VITEST_ABORT_NOTE = 'The test run was aborted by the user.';

/**
 * Results of a cancelled Vitest run as the reports must show them: a test Vitest marked skipped
 * only because the run was cancelled never ran, so it is dropped (mergeWithCatalog then makes it
 * NOT RUN with the interruption as the reason), unless the selection had deselected it anyway
 * (then SKIP with that reason, as in a run that was not interrupted).
 */
export function withoutCancelled(
  results: TestResultRecord[],
  deselectedReason: (id: string) => string | undefined,
): TestResultRecord[] {
  return results.flatMap((r) => {
    if (r.status !== 'SKIP' || r.reason !== VITEST_ABORT_NOTE) return [r];
    const why = deselectedReason(r.id);
    return why === undefined ? [] : [{ ...r, reason: why }];
  });
}

export type Verdict = 'success' | 'partial' | 'failure' | 'interrupted';

export function verdict(results: TestResultRecord[], phases: PhaseRecord[]): Verdict {
  if (phases.some((p) => p.status === 'interrupted')) return 'interrupted';
  if (phases.some((p) => p.status === 'failed') || results.some((r) => r.status === 'FAIL')) return 'failure';
  if (results.some((r) => r.status !== 'PASS')) return 'partial';
  return results.length ? 'success' : 'failure';
}

export function counts(results: TestResultRecord[]): Record<ResultStatus, number> {
  const c: Record<ResultStatus, number> = { PASS: 0, FAIL: 0, SKIP: 0, 'NOT RUN': 0 };
  for (const r of results) c[r.status]++;
  return c;
}

export interface ReportInput {
  toolVersion: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  facts: Partial<RunFacts> & { runId: string };
  profile: {
    name: string;
    source: string;
    istioVersion: string;
    chartRepository: string;
    releases: { name: string; chart: string; syncWave: number; valuesFile?: string }[];
  };
  phases: PhaseRecord[];
  results: TestResultRecord[];
  notes: string[];
  /** Fields of the profile and its values files that name one of Istio's retired hosts. */
  retiredHosts?: {
    file: string;
    field: string;
    use: string;
    value: string;
    retired: string;
    replacement: string;
  }[];
}
