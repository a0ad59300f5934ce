import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every fixture says where its shape comes from: a row in the README.md of its folder naming the
 * upstream repository, tag and path (`owner/repo@tag:path`) or how it was captured here. The check
 * against the source itself is done by reading it at the tag when a fixture is written or changed.
 */
const ROOT = path.join(import.meta.dirname, 'fixtures');

function folders(dir: string): string[] {
  return readdirSync(dir)
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isDirectory());
}

/** Rows of the README table: file → [shape from, checked]. */
function sourceRows(readme: string): Map<string, { from: string; checked: string }> {
  const rows = new Map<string, { from: string; checked: string }>();
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5) continue;
    const [, file = '', from = '', checked = ''] = cells;
    if (file === 'file' || /^-+$/.test(file)) continue;
    rows.set(file.replace(/`/g, ''), { from, checked });
  }
  return rows;
}

const SOURCE = /[\w.-]+\/[\w.-]+@[\w.+-]+:\S+|captured here with|this project's own/;

describe('fixture sources', () => {
  for (const dir of folders(ROOT)) {
    it(`every fixture in ${path.basename(dir)}/ names the upstream source its shape follows`, () => {
      const readme = path.join(dir, 'README.md');
      expect(existsSync(readme), `${readme} is missing`).toBe(true);
      const rows = sourceRows(readFileSync(readme, 'utf8'));
      for (const f of readdirSync(dir).filter((x) => x !== 'README.md')) {
        const row = rows.get(f);
        expect(row, `${path.basename(dir)}/${f} has no row in README.md`).toBeDefined();
        expect(
          row?.from,
          `${path.basename(dir)}/${f}: "shape from" names no repo@tag:path or capture`,
        ).toMatch(SOURCE);
        expect(row?.checked, `${path.basename(dir)}/${f}: "checked" must be yes or no: <why>`).toMatch(
          /^(yes|no: .+)/,
        );
      }
    });
  }
});
