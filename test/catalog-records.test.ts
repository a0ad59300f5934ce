import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RECORDS_PATH, toRecords } from '../scripts/catalog-records-lib.ts';
import { catalog } from '../suites/catalog.ts';

describe('suites/records.json', () => {
  it('holds exactly the catalog’s records (run `npm run catalog:records` after changing a test record)', () => {
    expect(readFileSync(RECORDS_PATH, 'utf8')).toBe(toRecords(catalog));
  });
});
