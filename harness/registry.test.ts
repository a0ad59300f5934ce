import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forgetCluster, readRecords, recordCluster, staleClusters } from './registry.ts';

describe('stale cluster sweep', () => {
  it('deletes only recorded, unkept clusters of this tool whose run is gone', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'reg-'));
    const rec = (name: string, pid: number, kept = false) =>
      recordCluster(dir, { name, runId: name, pid, createdAt: '2026-11-28T00:00:00Z', kept });
    rec('ambient-conformance-dead', 111);
    rec('ambient-conformance-live', 222);
    rec('ambient-conformance-kept', 333, true);
    const existing = [
      'ambient-conformance-dead',
      'ambient-conformance-live',
      'ambient-conformance-kept',
      'ambient-conformance-unknown',
      'kind',
      'ambient-conformance-me',
    ];
    const alive = (pid: number) => pid === 222;
    expect(staleClusters(existing, readRecords(dir), alive, 'ambient-conformance-me')).toEqual([
      'ambient-conformance-dead',
    ]);
    forgetCluster(dir, 'ambient-conformance-dead');
    expect(
      readRecords(dir)
        .map((r) => r.name)
        .sort(),
    ).toEqual(['ambient-conformance-kept', 'ambient-conformance-live']);
  });
});
