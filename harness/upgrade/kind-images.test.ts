import { describe, expect, it } from 'vitest';
import { PINS } from '../pins.ts';
import { checkKubernetes } from './plan.ts';
import { imageForMinor, KIND_RELEASES, kindReleaseOf, parseNodeImage } from './kind-images.ts';

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
