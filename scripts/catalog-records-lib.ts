import { fileURLToPath } from 'node:url';
import type { ConformanceTest } from '../harness/conformance/define.ts';

/** suites/records.json's text for a catalog: {"tests":[{id, suite, claim, needs, source?}]}. */
export function toRecords(catalog: ConformanceTest[]): string {
  const tests = catalog.map((t) => ({
    id: t.id,
    suite: t.suite,
    claim: t.claim,
    needs: t.needs,
    ...(t.source ? { source: t.source } : {}),
  }));
  return `${JSON.stringify({ tests }, null, 2)}\n`;
}

/** Where the records live (suites/records.ts reads them). */
export const RECORDS_PATH = fileURLToPath(new URL('../suites/records.json', import.meta.url));
