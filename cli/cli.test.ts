import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixture, makeFakeBin, type FakeBin } from '../test/helpers/fake-bin.ts';
import { runMain } from '../test/helpers/in-process.ts';

const BIN = path.join(import.meta.dirname, '..', 'bin', 'ambient-conformance.mjs');

/**
 * The CLI as a user meets it. Most cases run `main()` in this process (stdout and stderr
 * captured, PATH on the fakes, HOME and the tool cache in a temp folder, every AMBIENT_* and
 * KUBECONFIG cleared), which is what the binary runs after its Node check; `spawn: true` runs the
 * real binary where only a process of its own shows the behaviour.
 */
async function cli(
  args: string[],
  opts: { fake?: FakeBin; env?: Record<string, string>; spawn?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'home-'));
  const env: Record<string, string | undefined> = {
    PATH: opts.fake?.path ?? [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter),
    HOME: home,
    AMBIENT_TOOL_CACHE: path.join(home, 'tools'),
    ...opts.env,
  };
  if (opts.spawn) {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const r = await runMain(args, env);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const dockerDown = () =>
  makeFakeBin({
    docker: [
      {
        match: 'info',
        stdout: fixture('docker/info-daemon-down.stdout'),
        stderr: fixture('docker/info-daemon-down.stderr'),
        exit: 1,
      },
    ],
    kind: [{ match: 'version', stdout: fixture('kind/version.stdout') }],
    helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
  });

describe('the binary', () => {
  it('runs with Node’s own type stripping, and through tsx where stripping is switched off', () => {
    for (const flags of [[], ['--no-experimental-strip-types']]) {
      const r = spawnSync(process.execPath, [...flags, BIN, '--version'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, `${flags.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});

describe('ambient-conformance list', () => {
  it('prints the catalog without touching a cluster', async () => {
    // The real binary once: the entry's Node check and tsx loading, end to end.
    const r = await cli(['list'], { spawn: true });
    expect(r.code).toBe(0);
    for (const id of ['INSTALL-01', 'INSTALL-02', 'INSTALL-03', 'INSTALL-04']) expect(r.stdout).toContain(id);
  });
  it('--json', async () => {
    const r = await cli(['list', '--json']);
    const json = JSON.parse(r.stdout) as { tests: { id: string; suite: string; claim: string }[] };
    expect(json.tests.slice(0, 4).map((t) => t.id)).toEqual([
      'INSTALL-01',
      'INSTALL-02',
      'INSTALL-03',
      'INSTALL-04',
    ]);
    expect(json.tests[0]?.claim).toMatch(/sync-wave order/);
  });
});

describe('ambient-conformance plan --json', () => {
  it('shows the four helm installs in order with chart, version 1.28.3, namespace and the ambient values', async () => {
    const r = await cli(['plan', '--json'], { fake: dockerDown() });
    expect(r.code).toBe(0);
    const steps = (JSON.parse(r.stdout) as { steps: { id: string; command?: string[] }[] }).steps;
    const installs = steps.filter((s) => s.id.startsWith('istio.install.'));
    expect(installs.map((s) => s.command?.slice(0, 4))).toEqual([
      ['helm', 'install', 'istio-base', 'base'],
      ['helm', 'install', 'istiod', 'istiod'],
      ['helm', 'install', 'istio-cni', 'cni'],
      ['helm', 'install', 'ztunnel', 'ztunnel'],
    ]);
    for (const s of installs) {
      const c = s.command ?? [];
      expect(c[c.indexOf('--version') + 1]).toBe('1.28.3');
      expect(c[c.indexOf('--namespace') + 1]).toBe('istio-system');
      expect(c[c.indexOf('--repo') + 1]).toBe('https://blob.istio.io/istio-release/charts');
    }
    expect(installs.map((s) => (s as { description?: string }).description?.split('; ').at(-1))).toEqual([
      'no profile (as the docs install it)',
      'profile: ambient',
      'profile: ambient',
      'no profile (as the docs install it)',
    ]);
    const istiodValues = installs[1]?.command?.[(installs[1]?.command?.indexOf('--values') ?? 0) + 1] ?? '';
    expect(readFileSync(istiodValues, 'utf8')).toMatch(/^profile: ambient$/m);
  });

  it('without kind or helm installed, plans the verified downloads', async () => {
    const fake = makeFakeBin({ docker: [{ match: 'info', exit: 1 }] });
    const steps = (
      JSON.parse((await cli(['plan', '--json'], { fake })).stdout) as {
        steps: { id: string; command?: string[] }[];
      }
    ).steps;
    expect(steps.slice(1, 3).map((s) => s.id)).toEqual(['tools.kind', 'tools.helm']);
    expect(steps.find((s) => s.id === 'cluster.create')?.command?.[0]).toMatch(
      /tools\/kind\/v0\.30\.0\/linux-(amd64|arm64)\/kind$/,
    );
  });
});

describe('without a Docker daemon', () => {
  it('doctor exits non-zero naming the Docker daemon and the fix', async () => {
    const r = await cli(['doctor'], { fake: dockerDown() });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('Docker daemon');
    expect(r.stdout).toContain('Cannot connect to the Docker daemon');
    expect(r.stderr).toContain('start the Docker daemon');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('run stops at preflight within seconds, no stack trace, and still writes the reports', async () => {
    const reports = mkdtempSync(path.join(os.tmpdir(), 'reports-'));
    const t0 = Date.now();
    const r = await cli(['run', '--reports-dir', reports], { fake: dockerDown() });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('preflight failed: Docker daemon');
    expect(r.stderr).toContain('start the Docker daemon');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);
    const [runDir] = readdirSync(reports);
    const summary = readFileSync(path.join(reports, runDir ?? '', 'summary.md'), 'utf8');
    expect(summary).toContain('| INSTALL-01 |');
    expect(summary).toContain('NOT RUN');
    expect(existsSync(path.join(reports, runDir ?? '', 'junit.xml'))).toBe(true);
    const report = JSON.parse(
      readFileSync(path.join(reports, runDir ?? '', 'conformance-report.json'), 'utf8'),
    ) as { summary: { result: string } };
    expect(report.summary.result).toBe('failure');
  });
});

describe('bad input exits 2 with one precise message', () => {
  it('a malformed profile', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'p-'));
    const file = path.join(dir, 'profile.yaml');
    writeFileSync(
      file,
      'apiVersion: ambient-conformance/v1\nkind: Profile\nmetadata: {name: x}\nistio: {version: latest}\n',
    );
    const r = await cli(['plan', '--profile', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid profile ${file}: istio.version`);
    expect(r.stderr).toContain('expected: an Istio version: MAJOR.MINOR.PATCH such as 1.28.3');
    expect(r.stderr).toContain('seen:     latest');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a profile that does not exist', async () => {
    const r = await cli(['run', '--profile', '/nonexistent/profile.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('profile not found: /nonexistent/profile.yaml');
  });

  it('conflicting flags', async () => {
    const r = await cli(['plan', '--reuse', '--context', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--reuse cannot be combined with --kubeconfig/--context');
  });

  it('an unknown test ID', async () => {
    const r = await cli(['plan', '--only', 'INSTALL-99']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--only INSTALL-99: no such conformance test');
  });

  it('an unknown option', async () => {
    const r = await cli(['run', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate'");
  });

  it.each([[''], ['1.31'], ['latest']])('--istio-version %j names the flag', async (v) => {
    const r = await cli(['plan', '--istio-version', v]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--istio-version ${JSON.stringify(v)} is not an Istio version`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--profile /dev/zero is refused at once (it used to read until memory ran out)', async () => {
    // A process of its own: reading /dev/zero used to exhaust memory.
    const r = await cli(['plan', '--profile', '/dev/zero'], { spawn: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('profile /dev/zero cannot be read');
    expect(r.stderr).toContain('expected: a regular file of at most 1048576 bytes');
    expect(r.stderr).toContain('seen:     a character device');
  });

  it('--reports-dir that is a file, and a misspelt AMBIENT_TIMEOUT_ variable, name the flag and the variable', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rd-')), 'reports');
    writeFileSync(file, 'x');
    const r = await cli(['plan', '--reports-dir', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--reports-dir ${file} is not a folder this run can write to`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const env = await cli(['plan'], { env: { AMBIENT_TIMEOUT_HELM_INSTAL: '8m' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('unknown environment variable AMBIENT_TIMEOUT_HELM_INSTAL');
    expect(env.stderr).toContain('did you mean AMBIENT_TIMEOUT_HELM_INSTALL?');
  });

  it('a values file with a YAML alias that contains itself', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'loop-'));
    const src = readFileSync(
      path.join(import.meta.dirname, '../profiles/homelab/profile.yaml'),
      'utf8',
    ).replace(
      '../../clusters/kind-3node.yaml',
      path.join(import.meta.dirname, '../clusters/kind-3node.yaml'),
    );
    writeFileSync(path.join(dir, 'profile.yaml'), src);
    for (const f of ['istiod-values.yaml', 'cni-values.yaml'])
      writeFileSync(
        path.join(dir, f),
        readFileSync(path.join(import.meta.dirname, '../profiles/homelab', f)),
      );
    writeFileSync(path.join(dir, 'ztunnel-values.yaml'), 'a: &a [*a]\n');
    const r = await cli(['plan', '--profile', path.join(dir, 'profile.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ztunnel-values.yaml: a');
    expect(r.stderr).toContain('self-referencing alias');
  });

  it('an empty --only, and an ID in both --only and --skip', async () => {
    const empty = await cli(['plan', '--only', '']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("option '--only <ids>' argument '' is invalid");
    const both = await cli(['plan', '--only', 'INSTALL-01', '--skip', 'INSTALL-01']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('INSTALL-01 given to both --only and --skip');
  });

  it('an unknown command exits 2 with the usage hint', async () => {
    const r = await cli(['runn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'runn'");
    expect(r.stderr).toContain('(add --help for usage)');
  });

  describe('kubeconfig mistakes say what is wrong (exit 2); an API that does not answer is exit 3 with its address', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kc-'));
    const file = (name: string, content: string | Buffer) => {
      const f = path.join(dir, name);
      writeFileSync(f, content);
      return f;
    };
    const good = file(
      'good',
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: staging, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: staging\n',
    );
    it.each([
      ['a folder', dir, 'a folder'],
      ['empty', file('empty', ''), 'an empty file'],
      ['binary', file('binary', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2])), 'binary data'],
      ['garbage', file('garbage', 'key: [unclosed\n'), 'not YAML'],
      ['no contexts', file('nocontexts', 'apiVersion: v1\nkind: Config\n'), 'no contexts in it'],
    ])('%s', async (_name, kc, seen) => {
      const r = await cli(['plan', '--kubeconfig', kc], { fake: dockerDown() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`kubeconfig ${kc} is not usable`);
      expect(r.stderr).toContain(seen);
    });
    it('a --context it does not define', async () => {
      const r = await cli(['plan', '--kubeconfig', good, '--context', 'prod'], { fake: dockerDown() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`context prod is not in kubeconfig ${good}`);
      expect(r.stderr).toContain('one of: staging');
    });
    it('an unreachable API server: exit 3 naming it, and no false cleanup failure', async () => {
      const reports = mkdtempSync(path.join(os.tmpdir(), 'reports-'));
      const r = await cli(['run', '--kubeconfig', good, '--reports-dir', reports], { fake: dockerDown() });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain('the cluster API at https://127.0.0.1:9 does not answer');
      expect(r.stderr).not.toContain('cleanup left something behind');
    });
  });

  it('a malformed timeout override', async () => {
    const r = await cli(['plan'], { env: { AMBIENT_TIMEOUT_HELM_INSTALL: 'forever' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid AMBIENT_TIMEOUT_HELM_INSTALL="forever"');
  });
});

describe('ambient-conformance netpol matrix', () => {
  const EX = path.join(import.meta.dirname, '..', 'examples', 'netpol');
  it('--json keeps the contract: from, to, port, protocol, allowed, reason', async () => {
    const r = await cli([
      'netpol',
      'matrix',
      '-f',
      path.join(EX, 'port-15008-trap.yaml'),
      '--port',
      '3100',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const cells = (JSON.parse(r.stdout) as { cells: Record<string, unknown>[] }).cells;
    expect(cells[0]).toEqual({
      from: 'monitoring/prometheus-0',
      to: 'logging/loki-0',
      port: 3100,
      protocol: 'TCP',
      allowed: false,
      outcome: 'drop',
      judgedPort: 15008,
      reason:
        'drop: ingress of logging/loki-0 is isolated by logging/loki-ingress and no rule allows monitoring/prometheus-0 on TCP 15008 (HBONE: both ends enrolled, app port 3100 not judged)',
    });
  });
  it('--host-traffic: one of judged and exempt, and not two different ones (it changes cells)', async () => {
    const f = ['netpol', 'matrix', '-f', path.join(EX, 'probe-allowance.yaml')];
    const both = await cli([...f, '--host-traffic', 'judged', '--host-traffic', 'exempt']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('given twice with different values (judged, then exempt)');
    const bad = await cli([...f, '--host-traffic', 'Exempt']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Allowed choices are judged, exempt.');
    const ok = await cli([...f, '--host-traffic', 'exempt']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('host traffic: exempt:');
  });
  it('prints tables by default and reasons with --explain; all of examples/ is one valid input', async () => {
    const r = await cli(['netpol', 'matrix', '-f', path.join(EX, '..'), '-f', EX, '--explain']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('expected TCP 3100');
    expect(r.stdout).toContain('loki/loki-0 -> default/prometheus-0:9090 DROP');
    expect(r.stdout).toContain('sandbox/debug -> logs/loki-0:3100 DENY');
  });
  it('bad manifests exit 2 naming the file and the object', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-'));
    writeFileSync(
      path.join(dir, 'p.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n',
    );
    const r = await cli(['netpol', 'matrix', '-f', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('p.yaml: Pod p: invalid spec.containers');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it('a misspelt field exits 2 naming the file, the object and the field, instead of predicting default-deny', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-'));
    const file = path.join(dir, 'np.yaml');
    writeFileSync(
      file,
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: loki}\nspec:\n  podSelector: {}\n  ingres: [{}]\n',
    );
    const r = await cli(['netpol', 'matrix', '-f', file, '-f', path.join(EX, 'homelab.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `ambient-conformance: ${file}: NetworkPolicy loki/allow-all: unknown field spec.ingres\n` +
        '  expected: one of the fields of NetworkPolicySpec (networking.k8s.io/v1): podSelector, ingress, egress, policyTypes\n' +
        '  seen:     ingres\n' +
        '  fix:      fix the spelling or remove the field: the API server refuses unknown fields (kubectl apply validates strictly)\n',
    );
  });
  it('the same Pod in two files exits 2 naming both places', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-'));
    writeFileSync(
      path.join(dir, 'extra.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: prometheus-0}\nspec: {containers: [{name: p}]}\nstatus: {podIP: 10.244.9.9}\n',
    );
    const r = await cli(['netpol', 'matrix', '-f', path.join(EX, 'homelab.yaml'), '-f', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path.join(dir, 'extra.yaml')}: Pod default/prometheus-0 is defined twice`);
    expect(r.stderr).toContain(
      `seen:     ${path.join(EX, 'homelab.yaml')} (items[3]) and ${path.join(dir, 'extra.yaml')}`,
    );
  });
  it('a matrix above the cell limit exits 2 saying how to narrow it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'np-'));
    const pods = Array.from({ length: 600 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p-${i}`, namespace: 'big' },
      spec: { containers: [{ name: 'c', ports: [{ containerPort: 80 }] }] },
      status: { podIP: `10.1.${i >> 8}.${i & 255}` },
    }));
    writeFileSync(
      path.join(dir, 'pods.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }),
    );
    const r = await cli(['netpol', 'matrix', '-f', dir, '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the matrix would have 359,400 cells, more than the limit of 250,000');
    expect(r.stderr).toContain('--port <n>');
  });
  it('a bad --port exits 2', async () => {
    const r = await cli(['netpol', 'matrix', '-f', EX, '--port', 'http']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port http is not a port');
  });
});

describe('netpol matrix with Istio policies', () => {
  it('predicts resets for AuthorizationPolicy and STRICT', async () => {
    const r = await cli([
      'netpol',
      'matrix',
      '-f',
      path.join(import.meta.dirname, '..', 'examples', 'mesh', 'strict-and-authz.yaml'),
      '--port',
      '3100',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const cells = (
      JSON.parse(r.stdout) as { cells: { from: string; to: string; outcome: string; reason: string }[] }
    ).cells.filter((c) => c.to === 'logs/loki-0');
    expect(Object.fromEntries(cells.map((c) => [c.from, c.outcome]))).toEqual({
      'observability/prometheus-0': 'allow',
      'observability/grafana-0': 'deny',
      'sandbox/debug': 'deny',
    });
    expect(cells.find((c) => c.from === 'sandbox/debug')?.reason).toContain('STRICT');
    expect(cells.find((c) => c.from === 'observability/grafana-0')?.reason).toContain('logs/only-prometheus');
  });
});

describe("Istio's retired hosts: plan, run and doctor warn, the report lists them", () => {
  /** The OCI fixture profile, moved to the retired gcr.io host and with a retired hub in values. */
  function retiredProfile(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retired-'));
    const src = readFileSync(
      path.join(import.meta.dirname, '../test/fixtures/profiles/valid-oci.yaml'),
      'utf8',
    )
      .replace('oci://ghcr.io/istio/release/charts', 'oci://gcr.io/istio-release/charts')
      .replace(
        '../../../clusters/kind-3node.yaml',
        path.join(import.meta.dirname, '../clusters/kind-3node.yaml'),
      )
      .replace(
        '- { name: ztunnel, chart: ztunnel, syncWave: 4 }',
        '- { name: ztunnel, chart: ztunnel, syncWave: 4, values: { hub: registry.istio.io/release } }',
      );
    const file = path.join(dir, 'staging.yaml');
    writeFileSync(file, src);
    return file;
  }
  const warned = (text: string) => {
    expect(text).toContain(
      'istio.chartRepository (OCI chart repository) is oci://gcr.io/istio-release/charts',
    );
    expect(text).toContain('use oci://ghcr.io/istio/release/charts');
    expect(text).toContain('istio.releases[3].values.hub (image hub) is registry.istio.io/release');
    expect(text).toContain('use docker.io/istio');
  };

  it('plan warns and still plans', async () => {
    const r = await cli(['plan', '--json', '--profile', retiredProfile()], { fake: dockerDown() });
    expect(r.code).toBe(0);
    warned(r.stderr);
    expect(JSON.parse(r.stdout)).toHaveProperty('steps');
  });

  it('doctor --profile reports an "Istio hosts" warning with the fix', async () => {
    const r = await cli(['doctor', '--json', '--profile', retiredProfile()], { fake: dockerDown() });
    const checks = JSON.parse(r.stdout) as { name: string; status: string; detail: string; fix?: string }[];
    const hosts = checks.find((c) => c.name === 'Istio hosts');
    expect(hosts?.status).toBe('warn');
    expect(hosts?.detail).toContain('istio.chartRepository = oci://gcr.io/istio-release/charts');
    expect(hosts?.fix).toContain('istio.chartRepository: use oci://ghcr.io/istio/release/charts');
    warned(r.stderr);
    const ok = JSON.parse((await cli(['doctor', '--json'], { fake: dockerDown() })).stdout) as typeof checks;
    expect(ok.find((c) => c.name === 'Istio hosts')?.status).toBe('ok');
  });

  it('credentials in a repository URL are masked in warnings, plan output and reports', async () => {
    const file = retiredProfile();
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'oci://gcr.io/istio-release/charts',
        'https://user:s3cret@istio-release.storage.googleapis.com/charts',
      ),
    );
    const plan = await cli(['plan', '--json', '--profile', file], { fake: dockerDown() });
    expect(plan.code).toBe(0);
    expect(`${plan.stdout}${plan.stderr}`).not.toContain('s3cret');
    expect(plan.stderr).toContain('https://[REDACTED]@istio-release.storage.googleapis.com/charts');
    const reports = mkdtempSync(path.join(os.tmpdir(), 'reports-'));
    await cli(['run', '--reports-dir', reports, '--profile', file], { fake: dockerDown() });
    const [runDir] = readdirSync(reports);
    for (const f of ['summary.md', 'conformance-report.json', 'plan.json'])
      expect(readFileSync(path.join(reports, runDir ?? '', f), 'utf8')).not.toContain('s3cret');
  });

  it('plan --json carries the warnings, notices and retired-host fields for scripts', async () => {
    const r = await cli(['plan', '--json', '--profile', retiredProfile()], { fake: dockerDown() });
    const json = JSON.parse(r.stdout) as {
      warnings: string[];
      notices: string[];
      retiredHosts: { field: string }[];
    };
    expect(json.retiredHosts.map((h) => h.field)).toEqual([
      'istio.chartRepository',
      'istio.releases[3].values.hub',
    ]);
    expect(json.warnings.length).toBeGreaterThanOrEqual(2);
    expect(
      JSON.parse((await cli(['plan', '--json', '--istio-version', '1.30.5'], { fake: dockerDown() })).stdout)
        .notices[0],
    ).toContain('global.hub=docker.io/istio');
  });

  it('doctor --profile with a bad profile exits 2', async () => {
    const r = await cli(['doctor', '--profile', '/nonexistent/profile.yaml'], { fake: dockerDown() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('profile not found: /nonexistent/profile.yaml');
  });

  it('run warns, and its reports list the fields with the runbook-versus-upstream findings', async () => {
    const reports = mkdtempSync(path.join(os.tmpdir(), 'reports-'));
    const r = await cli(['run', '--reports-dir', reports, '--profile', retiredProfile()], {
      fake: dockerDown(),
    });
    expect(r.code).toBe(3);
    warned(r.stderr);
    const [runDir] = readdirSync(reports);
    const summary = readFileSync(path.join(reports, runDir ?? '', 'summary.md'), 'utf8');
    const section = summary.slice(summary.indexOf('## Runbook vs upstream'));
    expect(section).toContain('| Chart and image hosts |');
    expect(section).toContain('profile scan: WARN (istio.chartRepository, istio.releases[3].values.hub)');
    expect(section).toContain(
      '| istio.chartRepository | oci://gcr.io/istio-release/charts | gcr.io/istio-release | oci://ghcr.io/istio/release/charts |',
    );
    const report = JSON.parse(
      readFileSync(path.join(reports, runDir ?? '', 'conformance-report.json'), 'utf8'),
    ) as {
      retiredHosts: { field: string; replacement: string }[];
      documentationFindings: { topic: string; results: Record<string, string> }[];
    };
    expect(report.retiredHosts.map((h) => [h.field, h.replacement])).toEqual([
      ['istio.chartRepository', 'oci://ghcr.io/istio/release/charts'],
      ['istio.releases[3].values.hub', 'docker.io/istio'],
    ]);
    expect(report.documentationFindings.find((f) => f.topic === 'Chart and image hosts')?.results).toEqual({
      'profile-scan': 'WARN',
    });
  });
});
