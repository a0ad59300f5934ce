import { readFileSync } from 'node:fs';
import type { Feature } from '../harness/facts.ts';

/**
 * The catalog's records without the test bodies: what `list`, `plan` and the reports need (ID,
 * suite, claim, needs, source), read from suites/records.json so those commands do not load the
 * suites and the Kubernetes client behind them. `npm run catalog:records` regenerates the file
 * from suites/catalog.ts; test/catalog-records.test.ts fails when the two differ.
 */
export interface CatalogRecord {
  id: string;
  suite: string;
  claim: string;
  needs: Feature[];
  source?: string;
}

export const RECORDS_FILE = new URL('./records.json', import.meta.url);

export const records: CatalogRecord[] = (
  JSON.parse(readFileSync(RECORDS_FILE, 'utf8')) as { tests: CatalogRecord[] }
).tests;
