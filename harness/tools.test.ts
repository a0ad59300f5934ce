import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PreflightError } from './errors.ts';
import { PINS } from './pins.ts';
import {
  atLeast,
  downloadUrl,
  helmMajor,
  parseToolVersion,
  platformKey,
  provision,
  sha256,
  type ResolvedTool,
} from './tools.ts';
import { fixture } from '../test/helpers/fake-bin.ts';

function tool(name: 'kind' | 'helm', cache: string, url: string): ResolvedTool {
  return {
    name,
    path: path.join(cache, name, PINS[name].version, 'linux-amd64', name),
    version: PINS[name].version,
    source: 'download',
    url,
    warnings: [],
  };
}

describe('tool versions', () => {
  it('parses the real outputs of `kind version` and `helm version --short`', () => {
    expect(parseToolVersion('kind', fixture('kind/version.stdout'))).toBe('v0.30.0');
    expect(parseToolVersion('helm', fixture('helm/version-short-v4.stdout'))).toBe('v4.2.1');
    expect(parseToolVersion('helm', fixture('helm/version-short-v3.stdout'))).toBe('v3.21.4');
    expect(helmMajor('v4.2.1')).toBe(4);
    expect(helmMajor('v3.21.4')).toBe(3);
  });

  it('compares versions', () => {
    expect(atLeast('v0.30.0', 'v0.24.0')).toBe(true);
    expect(atLeast('v0.23.0', 'v0.24.0')).toBe(false);
    expect(atLeast('v3.6.0', 'v3.6.0')).toBe(true);
  });

  it('builds the pinned download URLs', () => {
    expect(platformKey('linux', 'x64')).toBe('linux-amd64');
    expect(platformKey('darwin', 'arm64')).toBe('darwin-arm64');
    expect(downloadUrl(PINS.kind, 'linux-amd64')).toBe(
      'https://github.com/kubernetes-sigs/kind/releases/download/v0.30.0/kind-linux-amd64',
    );
    expect(downloadUrl(PINS.helm, 'linux-arm64')).toBe('https://get.helm.sh/helm-v4.2.1-linux-arm64.tar.gz');
  });

  it('pins a SHA-256 for every platform of both tools', () => {
    for (const t of [PINS.kind, PINS.helm])
      for (const p of ['linux-amd64', 'linux-arm64', 'darwin-amd64', 'darwin-arm64'])
        expect(t.sha256[p]).toMatch(/^[a-f0-9]{64}$/);
  });
});

describe('provisioning', () => {
  it('refuses a download whose SHA-256 does not match the pin, and leaves nothing behind', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'tools-'));
    const t = tool('kind', cache, 'https://example.invalid/kind');
    const err = await provision(t, {
      fetcher: () => Promise.resolve(new TextEncoder().encode('not kind')),
      plat: 'linux-amd64',
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).message).toContain('checksum mismatch for kind v0.30.0');
    expect((err as PreflightError).details.expected).toBe(`sha256 ${PINS.kind.sha256['linux-amd64']}`);
    expect(existsSync(t.path)).toBe(false);
  });

  it('installs a verified binary executable into the cache', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'tools-'));
    const bytes = new TextEncoder().encode('#!/bin/sh\necho kind v0.30.0 go1.24.6 linux/amd64\n');
    const pins = PINS.kind.sha256;
    const saved = pins['test-plat'];
    pins['test-plat'] = sha256(bytes);
    try {
      const t = tool('kind', cache, 'https://example.invalid/kind');
      const done = await provision(t, {
        fetcher: () => Promise.resolve(bytes),
        plat: 'test-plat',
        timeoutMs: 5000,
      });
      expect(done.source).toBe('cache');
      expect(statSync(t.path).mode & 0o777).toBe(0o755);
      expect(execFileSync(t.path, { encoding: 'utf8' })).toContain('kind v0.30.0');
    } finally {
      if (saved === undefined) delete pins['test-plat'];
    }
  });

  it('unpacks helm from its release archive layout (<os>-<arch>/helm)', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'tools-'));
    const src = mkdtempSync(path.join(os.tmpdir(), 'helm-src-'));
    execFileSync('sh', [
      '-c',
      `mkdir -p ${src}/test-plat && printf '#!/bin/sh\\necho v4.2.1+gabc\\n' > ${src}/test-plat/helm && chmod +x ${src}/test-plat/helm && tar -czf ${src}/helm.tar.gz -C ${src} test-plat/helm`,
    ]);
    const bytes = new Uint8Array(readFileSync(`${src}/helm.tar.gz`));
    const pins = PINS.helm.sha256;
    pins['test-plat'] = sha256(bytes);
    try {
      const t = tool('helm', cache, 'https://example.invalid/helm-v4.2.1-test-plat.tar.gz');
      await provision(t, { fetcher: () => Promise.resolve(bytes), plat: 'test-plat', timeoutMs: 10_000 });
      expect(execFileSync(t.path, { encoding: 'utf8' })).toContain('v4.2.1');
    } finally {
      delete pins['test-plat'];
    }
  });

  it('refuses to download a tool with no pinned checksum for the platform', async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), 'tools-'));
    const err = await provision(tool('helm', cache, 'https://example.invalid/h.tar.gz'), {
      plat: 'plan9-mips',
      timeoutMs: 1000,
      fetcher: () => Promise.reject(new Error('must not fetch')),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).details.fix).toContain('Helm');
  });
});
