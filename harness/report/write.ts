import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { redact } from '../redact.ts';
import { conformanceReport, summaryMarkdown } from './render.ts';
import type { ReportInput, TestResultRecord } from './results.ts';

function xml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );
}

/** JUnit XML from results, for runs where Vitest never started (setup failed): CI still gets a report. */
export function junitFromResults(results: TestResultRecord[], suiteName = 'ambient-conformance'): string {
  const failures = results.filter((r) => r.status === 'FAIL').length;
  const skipped = results.filter((r) => r.status === 'SKIP' || r.status === 'NOT RUN').length;
  const cases = results.map((r) => {
    const name = xml(`${r.id} ${r.claim}`);
    const head = `  <testcase classname="${xml(r.suite)}" name="${name}" time="${(r.durationMs / 1000).toFixed(3)}"`;
    if (r.status === 'PASS') return `${head}/>`;
    if (r.status === 'FAIL')
      return `${head}>\n    <failure message="${xml(r.reason ?? 'failed')}">${xml((r.errors ?? []).join('\n'))}</failure>\n  </testcase>`;
    return `${head}>\n    <skipped message="${xml(`${r.status}: ${r.reason ?? ''}`)}"/>\n  </testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${suiteName}" tests="${results.length}" failures="${failures}" skipped="${skipped}">\n<testsuite name="${suiteName}" tests="${results.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n</testsuite>\n</testsuites>\n`;
}

export function writeReports(
  runDir: string,
  input: ReportInput,
): { summary: string; report: string; junit: string } {
  mkdirSync(runDir, { recursive: true });
  const summary = path.join(runDir, 'summary.md');
  const report = path.join(runDir, 'conformance-report.json');
  const junit = path.join(runDir, 'junit.xml');
  writeFileSync(summary, redact(summaryMarkdown(input)));
  writeFileSync(report, redact(JSON.stringify(conformanceReport(input), null, 2)));
  if (!existsSync(junit)) writeFileSync(junit, junitFromResults(input.results));
  return { summary, report, junit };
}
