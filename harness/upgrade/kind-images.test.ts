import { describe, expect, it } from 'vitest';
import { PINS } from '../pins.ts';
import { checkKubernetes } from './plan.ts';
import { imageForMinor, KIND_RELEASES, kindReleaseOf, parseNodeImage } from './kind-images.ts';
import { versionMatrix } from './matrix.ts';

const PATH = ['1.28.3', '1.29.8', '1.30.5', '1.31.1'];

describe('kind releases and their node images', () => {
  it('each release lists its default image, every image pinned by digest', () => {
    for (const r of KIND_RELEASES) {
      expect(r.images).toContain(r.defaultImage);
      for (const i of r.images) expect(parseNodeImage(i), i).toBeDefined();
    }
  });

  it('the embedded profile’s image is kind v0.30.0’s default, and pins.json runs kind v0.30.0', () => {
    expect(kindReleaseOf(PINS.nodeImage)?.release.version).toBe('v0.30.0');
    expect(PINS.kind.version).toBe('v0.30.0');
  });

  it('Kubernetes 1.35 and 1.36 come only from kind releases newer than v0.30.0', () => {
    expect(imageForMinor(35, 'v0.30.0')).toBeUndefined();
    expect(imageForMinor(35)?.release.version).toBe('v0.33.0');
    expect(imageForMinor(36, 'v0.32.0')?.image).toMatch(/^kindest\/node:v1\.36\.1@sha256:/);
  });
});

describe('the unverified kind v0.33.0 row', () => {
  const v33 = KIND_RELEASES.find((r) => r.version === 'v0.33.0');

  it('says what it rests on, and dates the release about 2026-08-26 (not 2026-09-16)', () => {
    expect(v33?.tagged).toBe(false);
    expect(v33?.date).toBe('2026-08-26');
    expect(v33?.unverified).toMatch(/not tagged in the kind mirror.*polarsquad\/krops#112/);
    for (const r of KIND_RELEASES.filter((x) => x.tagged)) expect(r.unverified, r.version).toBeUndefined();
  });

  it('the plan warns when the profile’s image comes from it', () => {
    const image = imageForMinor(34, 'v0.33.0')?.image ?? '';
    const r = checkKubernetes(PATH, image, 'v0.33.0');
    expect(r.status).toBe('warn');
    expect(r.evidence.find((e) => e.status === 'warn')?.text).toBe(
      `this relies on an unverified row of the kind table: ${v33?.unverified ?? ''}`,
    );
    // An option that needs it says so too.
    const other = checkKubernetes(PATH, imageForMinor(33, 'v0.31.0')?.image ?? '', 'v0.31.0');
    expect(other.evidence.at(-1)?.text).toContain('1.34 (kind v0.31.0: kindest/node:v1.34.3)');
  });

  it('the version matrix marks the cells built on it', () => {
    const cells = versionMatrix('2026-09-30');
    const on33 = cells.filter((c) => c.kind === 'v0.33.0');
    expect(on33.length).toBeGreaterThan(0);
    expect(on33[0]?.unverified).toMatch(/polarsquad\/krops#112/);
    for (const c of on33) expect(c.unverified, c.id).toBe(v33?.unverified);
    for (const c of cells.filter((x) => x.kind !== 'v0.33.0')) expect(c.unverified, c.id).toBeUndefined();
  });
});

describe('check 2: Kubernetes', () => {
  it('passes the homelab image for 1.28.3 → 1.31.1 and lists what would work for the whole path', () => {
    const r = checkKubernetes(PATH, PINS.nodeImage, 'v0.30.0');
    expect(r.status).toBe('pass');
    expect(r.evidence.at(-1)?.text).toBe(
      'Kubernetes minors every version on the path supports: 1.32 (kind v0.30.0: kindest/node:v1.32.8), 1.33 (kind v0.30.0: kindest/node:v1.33.4), 1.34 (kind v0.30.0: kindest/node:v1.34.0)',
    );
  });

  it('fails Kubernetes 1.30 (outside 1.30 and 1.31’s 1.32-1.36)', () => {
    const image = imageForMinor(30)?.image ?? '';
    const r = checkKubernetes(PATH, image, 'v0.30.0');
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('Istio 1.30.5 supports Kubernetes 1.32-1.36: 1.30.13 is outside');
    expect(r.summary).toContain('was built by kind v0.29.0, but the tool runs kind v0.30.0');
  });

  it('fails an image built by another kind release than the one the tool runs', () => {
    const image = imageForMinor(34, 'v0.31.0')?.image ?? '';
    expect(checkKubernetes(PATH, image, 'v0.30.0').summary).toContain(
      'was built by kind v0.31.0, but the tool runs kind v0.30.0',
    );
    expect(checkKubernetes(PATH, image, 'v0.31.0').status).toBe('pass');
  });

  it('fails a digest no kind release lists', () => {
    const r = checkKubernetes(PATH, `kindest/node:v1.34.0@sha256:${'0'.repeat(64)}`, 'v0.30.0');
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('no pinned kind release lists this digest for Kubernetes 1.34.0');
  });
});
