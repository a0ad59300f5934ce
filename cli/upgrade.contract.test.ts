import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runMain } from '../test/helpers/in-process.ts';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ambient-conformance.mjs');
const GITOPS = path.join(ROOT, 'profiles', 'homelab', 'argocd');

/**
 * `upgrade plan` as a user meets it: the real binary for the exit codes 0, 1 and 2 (one process
 * each), main() in this process for the rest. Every run is --offline (no helm is run) and dated
 * (--date), so the verdicts do not move with the calendar.
 */
function spawn(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
  const r = spawnSync(process.execPath, [BIN, 'upgrade', 'plan', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: ROOT,
    env: { PATH: [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter), HOME: home },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function plan(args: string[]) {
  const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
  return runMain(['upgrade', 'plan', ...args], {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AMBIENT_CHART_CACHE: path.join(home, 'charts'),
  });
}

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const DATED = ['--offline', '--date', '2026-11-30'];

describe('ambient-conformance upgrade plan (the binary)', () => {
  it('exit 0: the homelab profile 1.28.3 → 1.31.1 is sound, offline, printing the hops and every check', () => {
    const r = spawn(['--to', '1.31.1', ...DATED]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1.28.3 → 1.29.8 → 1.30.5 → 1.31.1 (one minor per hop');
    for (const title of [
      'Hops and version skew',
      'Kubernetes and kind node image',
      'Releases',
      'Chart repositories and image hubs',
      'Values keys the charts read',
      'Behaviour changes crossing the path',
    ])
      expect(r.stdout).toContain(title);
  });

  it('exit 1: with the homelab’s Argo CD Applications a check fails (retired repoURL for 1.31)', () => {
    const r = spawn(['--from', '1.28.3', '--to', '1.31.1', '--gitops', GITOPS, ...DATED, '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { verdict: string; checks: { id: string; status: string }[] };
    expect(json.verdict).toBe('fails');
    expect(json.checks.map((c) => c.id)).toEqual([
      'hops',
      'kubernetes',
      'releases',
      'hosts',
      'values',
      'behaviour',
      'gitops-waves',
      'gitops-staging',
      'gitops-ignore',
    ]);
    expect(json.checks.find((c) => c.id === 'hosts')?.status).toBe('fail');
  });

  it('exit 2: bad input, one precise message and no stack trace', () => {
    const r = spawn(['--to', '1.32.0', ...DATED]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'ambient-conformance: --to "1.32.0" is not an Istio version this tool knows',
        '  expected: a release of an Istio minor this tool knows: 1.28, 1.29, 1.30, 1.31',
        '  seen:     1.32.0 (Istio 1.32 is not in the table)',
        '  fix:      use a known minor, or add 1.32 with its supported Kubernetes minors (istio.io supportStatus.yml) to harness/istio/versions.ts',
        '',
      ].join('\n'),
    );
  });
});

describe('ambient-conformance upgrade plan (in process)', () => {
  it('1.28.3 → 1.30.5 in one step (--direct) fails with the legal path', async () => {
    const r = await plan(['--to', '1.30.5', '--direct', ...DATED]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '1.28.3 → 1.30.5 skips a minor: the data plane would be more than one minor behind istiod; take 1.28.3 → 1.29.8 → 1.30.5',
    );
  });

  it('--help says what --direct over a skipped minor does: the hops check fails, exit 1 (not refused, exit 2)', async () => {
    const r = await runMain(['upgrade', 'plan', '--help'], { PATH: '/usr/bin:/bin' });
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      '--direct check a single hop A → B (when it skips a minor the hops check fails, exit 1, naming the legal path)',
    );
    expect(r.stdout).not.toContain('refused when it skips a minor');
  });

  it('--from newer than the manifests: the staging check says the manifests disagree with --from', async () => {
    const r = await plan(['--from', '1.29.6', '--to', '1.30.3', '--gitops', GITOPS, ...DATED, '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as {
      checks: {
        id: string;
        status: string;
        summary: string;
        evidence: { text: string; status?: string }[];
      }[];
    };
    const staging = json.checks.find((c) => c.id === 'gitops-staging');
    expect(staging?.status).toBe('fail');
    expect(staging?.summary).toMatch(
      /^the manifests disagree with --from 1\.29\.6: every Application pins an older version \(1\.28\.3\)/,
    );
    expect(staging?.evidence.filter((e) => e.status === 'fail')).toHaveLength(1);
    expect(JSON.stringify(staging)).not.toContain('change in one step');
  });

  it.each([
    [['--to', 'banana'], '--to "banana" is not an Istio version'],
    [[], '--to is required'],
    [['--to', '1.28.1'], '--from 1.28.3 (the profile’s istio.version) is not older than --to 1.28.1'],
    [['--from', '1.30.3', '--to', '1.29.6'], '--from 1.30.3 is not older than --to 1.29.6'],
    [
      ['--to', '1.31.1', '--via', '1.30.5,1.29.8'],
      '--via 1.30.5,1.29.8: 1.29.8 is not between 1.30.5 and 1.31.1',
    ],
    [['--to', '1.31.1', '--via', '1.29.8', '--direct'], '--via and --direct exclude each other'],
    [['--to', '1.31.1', '--date', '2026-02-30'], '--date "2026-02-30" is not a date'],
    [['--to', '1.31.1', '--gitops', '/nonexistent/gitops'], '--gitops /nonexistent/gitops: no such folder'],
    [
      ['--to', '1.31.1', '--gitops', path.join(GITOPS, 'manifests', 'applications', 'istiod.yaml')],
      'not a folder',
    ],
    [
      ['--to', '1.31.1', '--gitops', path.join(ROOT, 'clusters')],
      'no Argo CD Application deploys an Istio chart',
    ],
    [
      ['--to', '1.31.1', '--profile', '/nonexistent/profile.yaml'],
      'profile not found: /nonexistent/profile.yaml',
    ],
  ])('%j is refused with exit 2: %s', async (args, message) => {
    const r = await plan([...args, '--offline']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a malformed Application manifest is refused naming the file and the field', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gitops-'));
    mkdirSync(path.join(dir, 'apps'));
    writeFileSync(
      path.join(dir, 'apps', 'istiod.yaml'),
      'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: istiod\n  annotations: { argocd.argoproj.io/sync-wave: soon }\nspec:\n  source: { repoURL: https://blob.istio.io/istio-release/charts, chart: istiod, targetRevision: 1.28.3 }\n',
    );
    const r = await plan(['--to', '1.29.6', '--gitops', dir, ...DATED]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `--gitops ${dir}: apps/istiod.yaml: Application istiod: metadata.annotations["argocd.argoproj.io/sync-wave"]`,
    );
    expect(r.stderr).toContain('expected: an integer as a string, e.g. "-44"');
    writeFileSync(path.join(dir, 'apps', 'istiod.yaml'), 'kind: Application\n  bad: [');
    expect((await plan(['--to', '1.29.6', '--gitops', dir, ...DATED])).code).toBe(2);
  });

  it('a --gitops folder with an unreadable subfolder is refused naming it (exit 2), as a user without access meets it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gitops-'));
    chmodSync(dir, 0o755);
    cpSync(GITOPS, dir, { recursive: true });
    const secret = path.join(dir, 'manifests', 'secret');
    mkdirSync(secret);
    chmodSync(secret, 0o000);
    try {
      // As root the permission bits do not bind: run the binary as nobody (65534) then.
      const asRoot = process.getuid?.() === 0;
      const r = spawnSync(
        process.execPath,
        [BIN, 'upgrade', 'plan', '--to', '1.31.1', '--gitops', dir, ...DATED],
        {
          encoding: 'utf8',
          timeout: 60_000,
          cwd: ROOT,
          env: {
            PATH: [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter),
            HOME: os.tmpdir(),
          },
          ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        },
      );
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe(
        [
          `ambient-conformance: --gitops ${dir}: the folder ${secret} cannot be read`,
          '  expected: a folder this user can list, with every folder under it readable',
          '  seen:     EACCES',
          '  fix:      fix its permissions, or pass the folder of the Istio Applications only',
          '',
        ].join('\n'),
      );
    } finally {
      chmodSync(secret, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('symbolic links and folders deeper than 20 levels are skipped and listed in the gitops-waves evidence', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gitops-'));
    cpSync(GITOPS, dir, { recursive: true });
    symlinkSync(path.join(dir, 'manifests', 'applications', 'istiod.yaml'), path.join(dir, 'link.yaml'));
    const deep = path.join(dir, ...Array.from({ length: 21 }, (_, i) => `d${i + 1}`));
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, 'x.yaml'), 'a: 1\n');
    const r = await plan(['--to', '1.29.6', '--gitops', dir, ...DATED, '--json']);
    const json = JSON.parse(r.stdout) as { checks: { id: string; evidence: { text: string }[] }[] };
    const texts = json.checks.find((c) => c.id === 'gitops-waves')?.evidence.map((e) => e.text);
    expect(texts).toContain('--gitops: skipped link.yaml: a symbolic link (not followed)');
    expect(texts).toContain(
      `--gitops: skipped ${Array.from({ length: 21 }, (_, i) => `d${i + 1}`).join('/')}: a folder deeper than 20 levels (not read)`,
    );
  });

  it('--date judges host retirement: the homelab’s retired repoURL warns on 2026-11-30 and fails on 2027-03-01', async () => {
    const hosts = async (date: string) => {
      const r = await plan(['--to', '1.30.5', '--gitops', GITOPS, '--offline', '--date', date, '--json']);
      const json = JSON.parse(r.stdout) as { checks: { id: string; status: string; summary: string }[] };
      return { code: r.code, check: json.checks.find((c) => c.id === 'hosts') };
    };
    expect((await hosts('2026-11-30')).check?.status).toBe('warn');
    const after = await hosts('2027-03-01');
    expect(after.code).toBe(1);
    expect(after.check?.status).toBe('fail');
    expect(after.check?.summary).toContain('at a host retired by the run date 2027-03-01');
  });

  it('a target not yet released on --date fails the releases check', async () => {
    const r = await plan(['--to', '1.31.1', '--offline', '--date', '2026-08-01', '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { checks: { id: string; status: string; summary: string }[] };
    const releases = json.checks.find((c) => c.id === 'releases');
    expect(releases?.status).toBe('fail');
    expect(releases?.summary).toContain(
      '1.31.1 (target (B)) is not published on 2026-08-01: released 2026-09-21',
    );
    expect(releases?.summary).not.toContain('supported on');
  });

  it('without --offline and without helm on PATH the value check says why it could not run', async () => {
    const r = await plan(['--to', '1.31.1', '--date', '2026-11-30', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      checks: { id: string; status: string; evidence: { text: string }[] }[];
    };
    const values = json.checks.find((c) => c.id === 'values');
    expect(values?.status).toBe('not-run');
    expect(values?.evidence.some((e) => e.text.includes('no helm on PATH to fetch the chart'))).toBe(true);
  });
});
