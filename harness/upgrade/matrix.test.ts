import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_PROFILE } from '../profile/core.ts';
import { loadProfile } from '../profile/load.ts';
import { kindReleaseOf } from './kind-images.ts';
import { profileForCell, SMOKE_TESTS, versionMatrix } from './matrix.ts';

describe('the version matrix (harness/upgrade/matrix.ts)', () => {
  it('on 2026-11-30: 1.30.5 and 1.31.1 (1.28 and 1.29 are past end of life) × Kubernetes 1.32-1.36', () => {
    expect(versionMatrix('2026-11-30').map((c) => `${c.istio}/${c.kubernetes}/${c.kind}`)).toEqual([
      '1.30.5/1.32/v0.31.0',
      '1.30.5/1.33/v0.32.0',
      '1.30.5/1.34/v0.33.0',
      '1.30.5/1.35/v0.33.0',
      '1.30.5/1.36/v0.33.0',
      '1.31.1/1.32/v0.31.0',
      '1.31.1/1.33/v0.32.0',
      '1.31.1/1.34/v0.33.0',
      '1.31.1/1.35/v0.33.0',
      '1.31.1/1.36/v0.33.0',
    ]);
    expect(
      versionMatrix('2026-06-01')
        .filter((c) => c.istio === '1.28.10')
        .map((c) => c.kubernetes),
    ).toEqual(['1.30', '1.31', '1.32', '1.33', '1.34']);
  });

  it('each cell’s image is pinned by digest and built by the cell’s kind release; 1.30+ sets the hub', () => {
    for (const c of versionMatrix('2026-06-01')) {
      expect(kindReleaseOf(c.nodeImage)?.release.version, c.id).toBe(c.kind);
      expect(c.hub !== undefined, c.id).toBe(!c.istio.startsWith('1.28.') && !c.istio.startsWith('1.29.'));
    }
  });

  it('the expectations that change with the version come from the behaviour table', () => {
    const mode = (istio: string) =>
      versionMatrix('2026-06-01')
        .find((c) => c.istio === istio)
        ?.expectations.find((e) => e.id === 'cni-conf-mode-0600')?.value;
    expect(mode('1.29.8')).toBe('0644');
    expect(mode('1.30.5')).toBe('0600');
  });

  it('the smoke subset names tests and suites of the catalog (suites/records.json)', () => {
    // harness/ may not import suites/; the catalog's records file is data.
    const catalog = JSON.parse(
      readFileSync(new URL('../../suites/records.json', import.meta.url), 'utf8'),
    ) as {
      tests: { id: string }[];
    };
    const ids = catalog.tests.map((r) => r.id);
    for (const s of SMOKE_TESTS)
      expect(s.endsWith('*') ? ids.some((i) => i.startsWith(s.slice(0, -1))) : ids.includes(s), s).toBe(true);
  });

  it('the profile of a cell is the embedded one with the cell’s version and image, and loads', async () => {
    const cell = versionMatrix('2026-11-30').at(-1);
    if (!cell) throw new Error('no cell');
    const text = await profileForCell(readFileSync(EMBEDDED_PROFILE, 'utf8'), cell);
    // Written next to the embedded profile, as the workflow does, so its relative paths resolve.
    const dir = path.dirname(EMBEDDED_PROFILE);
    const file = path.join(dir, `matrix-test-${process.pid}-${Date.now()}.yaml`);
    writeFileSync(file, text);
    try {
      const p = loadProfile(file);
      expect([p.doc.istio.version, p.doc.cluster.kind.nodeImage, p.kubernetesVersion]).toEqual([
        cell.istio,
        cell.nodeImage,
        '1.36.4',
      ]);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
