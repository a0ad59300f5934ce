import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { splitTestName, type TestResultRecord } from './results.ts';

/**
 * Writes every conformance test's outcome (with skip notes and errors) to a JSON file the CLI
 * turns into summary.md and conformance-report.json.
 */
export default class ConformanceResultsReporter implements Reporter {
  private readonly outputFile: string;

  constructor(options: { outputFile?: string } = {}) {
    this.outputFile = options.outputFile ?? process.env.AMBIENT_RESULTS_FILE ?? 'reports/results.json';
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const records: TestResultRecord[] = [];
    for (const mod of testModules) {
      for (const tc of mod.children.allTests()) {
        const parsed = splitTestName(tc.name);
        const meta = tc.meta();
        const id = meta.conformanceId ?? parsed?.id ?? tc.name;
        const result = tc.result();
        const errors = (result.errors ?? []).map((e) => e.message);
        const status =
          result.state === 'passed'
            ? 'PASS'
            : result.state === 'failed'
              ? 'FAIL'
              : result.state === 'skipped'
                ? 'SKIP'
                : 'NOT RUN';
        records.push({
          id,
          suite: meta.conformanceSuite ?? (tc.parent.type === 'suite' ? tc.parent.name : ''),
          claim: parsed?.claim ?? tc.name,
          status,
          durationMs: tc.diagnostic()?.duration ?? 0,
          ...(result.state === 'skipped' && result.note ? { reason: result.note } : {}),
          ...(errors.length ? { errors, reason: errors[0]?.split('\n')[0] ?? '' } : {}),
        });
      }
    }
    mkdirSync(path.dirname(this.outputFile), { recursive: true });
    writeFileSync(this.outputFile, JSON.stringify(records, null, 2));
  }
}
