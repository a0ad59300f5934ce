import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterNameProblem, collectList, envSwitch, newRunId, resolveSettings } from './settings.ts';
import { UserInputError } from './errors.ts';
import { defineSuite } from './conformance/define.ts';

const catalog = defineSuite('removal', [
  { id: 'REMOVAL-01', claim: 'c', needs: ['cluster'], body: () => Promise.resolve() },
  { id: 'REMOVAL-04', claim: 'c', needs: ['cluster', 'destructive'], body: () => Promise.resolve() },
]);

describe('run settings', () => {
  it('a fresh kind run: its own cluster name, kubeconfig in the run folder, the kind context', () => {
    const w = mkdtempSync(path.join(os.tmpdir(), 'w-'));
    const s = resolveSettings({}, catalog, { runId: '20261128-101500-ab12', cwd: w, env: {} });
    expect(s).toMatchObject({
      mode: 'kind',
      clusterName: 'ambient-conformance-ab12',
      runDir: `${w}/reports/20261128-101500-ab12`,
      kubeconfig: `${w}/reports/20261128-101500-ab12/kubeconfig`,
      context: 'kind-ambient-conformance-ab12',
      keep: false,
      destructive: false,
    });
  });
  it('--reuse keeps the cluster; --destructive is carried', () => {
    expect(
      resolveSettings({ reuse: true, clusterName: 'ambient-conformance-k1', destructive: true }, catalog, {
        env: {},
      }),
    ).toMatchObject({ mode: 'kind-reuse', keep: true, destructive: true });
  });
  it('bad combinations are the user’s input: exit 2', () => {
    expect(() => resolveSettings({ reuse: true }, catalog, { env: {} })).toThrow(UserInputError);
    expect(() => resolveSettings({ useExistingIstio: true }, catalog, { env: {} })).toThrow(
      /needs --kubeconfig or --context/,
    );
    expect(() => resolveSettings({ clusterName: 'Bad_Name' }, catalog, { env: {} })).toThrow(
      /not a valid kind cluster name/,
    );
    expect(() => resolveSettings({ only: ['NETPOL-*'] }, catalog, { env: {} })).toThrow(
      /no such conformance test/,
    );
  });
  it('parses lists and run IDs', () => {
    expect(collectList('A-01, B-*', ['X-02'])).toEqual(['X-02', 'A-01', 'B-*']);
    expect(newRunId(new Date(Date.UTC(2026, 10, 28, 10, 15, 0)), 'ab12')).toBe('20261128-101500-ab12');
  });
});

function refusal(fn: () => unknown): UserInputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a UserInputError');
}

describe('flags are never accepted silently', () => {
  it.each([
    ['ambient-conformance-1a2b', undefined],
    ['a', undefined],
    ['my.cluster-1', undefined], // kind allows "." (validNameRE ^[a-z0-9.-]+$)
    ['a'.repeat(50), undefined],
    ['', 'an empty value'],
    [
      'a'.repeat(51),
      '51 characters (at most 50: kind warns above that, as its node names then pass 64 characters)',
    ],
    ['Bad_Name', 'characters other than lowercase letters, digits, "." and "-"'],
    ['-x', 'its node name -x-control-plane is not a DNS-1123 subdomain'],
    ['.x', 'its node name .x-control-plane is not a DNS-1123 subdomain'],
    ['x.', 'its node name x.-control-plane is not a DNS-1123 subdomain'],
    ['a..b', 'its node name a..b-control-plane is not a DNS-1123 subdomain'],
  ])('kind cluster name %j', (name, problem) => {
    const got = clusterNameProblem(name);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });

  it('--cluster-name names the flag, the rule and what is wrong; bounded', () => {
    const e = refusal(() => resolveSettings({ clusterName: 'x'.repeat(10_000) }, catalog, { env: {} }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(
      /^--cluster-name "x+… \(10002 characters in all\) is not a valid kind cluster name$/,
    );
    expect(e.details.expected).toContain('at most 50 lowercase letters, digits, "." and "-"');
    expect(e.details.seen).toBe(
      '10000 characters (at most 50: kind warns above that, as its node names then pass 64 characters)',
    );
  });

  it.each([
    [{ context: '' }, '--context: an empty value'],
    [{ kubeconfig: '' }, '--kubeconfig: an empty value'],
    [{ reportsDir: '' }, '--reports-dir: an empty value'],
  ])('an empty %j exits 2 naming the flag', (flags, message) => {
    const e = refusal(() => resolveSettings(flags, catalog, { env: {} }));
    expect(e.message).toBe(message);
    expect(e.details.seen).toBe('an empty value');
  });

  it('--reports-dir that is a file, or under /proc or /sys, exits 2 naming the flag', () => {
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'rd-')), 'file');
    writeFileSync(f, 'x');
    const file = refusal(() => resolveSettings({ reportsDir: f }, catalog, { env: {} }));
    expect(file.message).toBe(`--reports-dir ${f} is not a folder this run can write to`);
    expect(file.details.seen).toBe('a file');
    for (const d of ['/proc/reports', '/sys/fs/reports'])
      expect(refusal(() => resolveSettings({ reportsDir: d }, catalog, { env: {} })).message).toBe(
        `--reports-dir ${d} is not a folder this run can write to`,
      );
  });

  it('AMBIENT_TOOL_CACHE that is a file exits 2 naming the variable', () => {
    const f = path.join(mkdtempSync(path.join(os.tmpdir(), 'tc-')), 'file');
    writeFileSync(f, 'x');
    expect(refusal(() => resolveSettings({}, catalog, { env: { AMBIENT_TOOL_CACHE: f } })).message).toBe(
      `AMBIENT_TOOL_CACHE ${f} is not a folder this run can write to`,
    );
  });

  it('the standalone globalSetup names its variables instead of flags', () => {
    const e = refusal(() =>
      resolveSettings({ clusterName: 'Bad' }, [], {
        env: {},
        names: { clusterName: 'AMBIENT_CLUSTER_NAME' },
      }),
    );
    expect(e.message).toMatch(/^AMBIENT_CLUSTER_NAME "Bad" is not a valid kind cluster name$/);
  });

  it('AMBIENT_KEEP is 1 or 0; anything else is refused, not read as off', () => {
    expect(envSwitch({}, 'AMBIENT_KEEP')).toBe(false);
    expect(envSwitch({ AMBIENT_KEEP: '' }, 'AMBIENT_KEEP')).toBe(false);
    expect(envSwitch({ AMBIENT_KEEP: '0' }, 'AMBIENT_KEEP')).toBe(false);
    expect(envSwitch({ AMBIENT_KEEP: '1' }, 'AMBIENT_KEEP')).toBe(true);
    const e = refusal(() => envSwitch({ AMBIENT_KEEP: 'true' }, 'AMBIENT_KEEP'));
    expect(e.message).toBe('invalid AMBIENT_KEEP');
    expect(e.details).toMatchObject({ expected: '1 (on) or 0 (off); unset is off', seen: '"true"' });
  });

  it('an unknown --context is named, bounded', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    const kc = path.join(dir, 'config');
    writeFileSync(kc, 'apiVersion: v1\nkind: Config\ncontexts: [{name: a, context: {}}]\n');
    const e = refusal(() =>
      resolveSettings({ kubeconfig: kc, context: 'z'.repeat(5000) }, catalog, { env: {} }),
    );
    expect(e.render().length).toBeLessThan(1000);
  });
});
