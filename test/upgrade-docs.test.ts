import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fillSamples, sampleArgs } from '../scripts/upgrade-docs-lib.ts';
import { runMain } from './helpers/in-process.ts';

/**
 * docs/upgrade-plan.md shows the tool's own output: each sample is regenerated here (main() in
 * this process, as scripts/upgrade-docs.ts runs the binary) and must equal the file. The samples
 * pass --date, so only the code changes them; the run date line is masked anyway, in case a
 * sample is ever written without it.
 */
const DOC = path.join(import.meta.dirname, '..', 'docs', 'upgrade-plan.md');

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const mask = (t: string) =>
  t
    .replace(/Run date \d{4}-\d{2}-\d{2}/g, 'Run date <date>')
    .replace(/"runDate": "[^"]*"/g, '"runDate": "<date>"');

describe('docs/upgrade-plan.md', () => {
  it('has the samples the Done-when asks for: 1.28.3 → 1.31.1 with the homelab Applications, and JSON', () => {
    const args = sampleArgs(readFileSync(DOC, 'utf8')).map((a) => a.join(' '));
    expect(args).toContain('--to 1.31.1 --gitops profiles/homelab/argocd --offline --date 2026-11-30');
    expect(args.some((a) => a.includes('--json'))).toBe(true);
  });

  it('samples are what the tool prints now', async () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(sampleArgs(doc)).toHaveLength(3);
    const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
    const fresh = await fillSamples(doc, async (args) => {
      const r = await runMain(['upgrade', 'plan', ...args], { PATH: '/usr/bin:/bin', HOME: home });
      expect([0, 1], r.stderr).toContain(r.code);
      return r.stdout;
    });
    expect(mask(fresh), 'run: node --import tsx scripts/upgrade-docs.ts').toBe(mask(doc));
  });
});
