import { describe, expect, it } from 'vitest';
import { DOCKER_V20_10_0, KIND_V0_30_0, usageError } from '../test/helpers/cli-tables.ts';
import { makeFakeBin, withEnv } from '../test/helpers/fake-bin.ts';
import { run } from './exec.ts';
import { buildPlan, type RunSettings } from './plan.ts';
import { loadProfile } from './profile/load.ts';
import { IPSET_LIST, NET_D_DUMP, RULES_DUMP } from './removal/node-state.ts';

/**
 * kind and docker cannot run here, so their fakes refuse what the pinned kind v0.30.0 and the
 * oldest accepted Docker CLI (v20.10.0) refuse (test/helpers/cli-tables.ts, from their source).
 * Every kind and docker command a run can execute must parse.
 */
const settings: RunSettings = {
  runId: 'r1',
  mode: 'kind',
  clusterName: 'ambient-conformance-r1',
  runDir: '/tmp/r1',
  kubeconfig: '/tmp/r1/kubeconfig',
  useExistingIstio: false,
  keep: false,
  keepOnFailure: true,
  only: [],
  skip: [],
};

describe('kind and docker command lines', () => {
  const profile = loadProfile(undefined, { env: {} });
  const commands = (['kind', 'kind-reuse'] as const).flatMap((mode) =>
    buildPlan({
      profile,
      settings: { ...settings, mode },
      kind: { name: 'kind', path: 'kind', version: 'v0.30.0', source: 'path', warnings: [] },
      helm: { name: 'helm', path: 'helm', version: 'v4.2.1', source: 'path', warnings: [], major: 4 },
    }).steps.flatMap((s) => (s.command ? [s.command] : [])),
  );

  it('every kind command of the plans parses for kind v0.30.0', () => {
    const kind = commands.filter((c) => c[0] === 'kind');
    expect(kind.map((c) => c.slice(1, 3).join(' '))).toEqual(
      expect.arrayContaining([
        'get clusters',
        'create cluster',
        'get kubeconfig',
        'export logs',
        'delete cluster',
      ]),
    );
    for (const c of kind) expect(usageError(KIND_V0_30_0, c.slice(1)), c.join(' ')).toBeUndefined();
  });

  it('every docker command (preflight, node reads) parses for Docker CLI v20.10.0', () => {
    const docker = [
      ...commands.filter((c) => c[0] === 'docker'),
      ['docker', 'version', '--format', '{{.Client.Version}}'],
      ['docker', 'exec', 'node-1', 'sh', '-c', NET_D_DUMP],
      ['docker', 'exec', 'node-1', 'sh', '-c', RULES_DUMP],
    ];
    for (const c of docker) expect(usageError(DOCKER_V20_10_0, c.slice(1)), c.join(' ')).toBeUndefined();
    expect(IPSET_LIST).toContain('ipset list -n');
  });

  it.each([
    [['create', 'cluster', '--name', 'x', '--wait-for', '5m'], 'unknown flag: --wait-for'],
    [['create', 'cluster', 'extra'], 'accepts 0 arg(s), received 1'],
    [['delete', 'clusters', '--name', 'x'], 'unknown command'],
    [['get', 'kubeconfig', '--name'], 'flag needs an argument: --name'],
    [['export', 'logs', 'a', 'b', '--name', 'x'], 'accepts 0 to 1 arg(s), received 2'],
  ])('kind %j is refused: %s', (argv, message) => {
    expect(usageError(KIND_V0_30_0, argv)).toContain(message);
  });

  it.each([
    [['-v', '1', 'create', 'cluster', '--name', 'x']],
    [['-v3', 'get', 'clusters']],
    [['get', 'clusters', '--quiet']],
    [['version', 'extra']],
    [['--version']],
  ])('kind %j parses (persistent flags anywhere, version takes any args)', (argv) => {
    expect(usageError(KIND_V0_30_0, argv)).toBeUndefined();
  });

  it('docker root flags go before the subcommand only', () => {
    expect(usageError(DOCKER_V20_10_0, ['--context', 'x', 'info'])).toBeUndefined();
    expect(usageError(DOCKER_V20_10_0, ['-H', 'unix:///x', 'exec', '-it', 'n', 'sh'])).toBeUndefined();
    expect(usageError(DOCKER_V20_10_0, ['info', '--context', 'x'])).toBe('unknown flag: --context');
    expect(usageError(DOCKER_V20_10_0, ['exec', 'n'])).toContain('accepts 2 to Infinity arg(s), received 1');
  });

  it('the fakes refuse as the real tools do, before any scripted answer', async () => {
    const fake = makeFakeBin({
      kind: [{ match: 'create cluster', stdout: 'created' }],
      docker: [{ match: 'info', stdout: '{}' }],
    });
    await withEnv({ PATH: fake.path }, async () => {
      const bad = await run(['kind', 'create', 'cluster', '--bogus'], { timeoutMs: 10_000 });
      expect(bad).toMatchObject({ exitCode: 1, stderr: 'ERROR: unknown flag: --bogus\n' });
      expect((await run(['kind', 'create', 'cluster', '--name', 'x'], { timeoutMs: 10_000 })).stdout).toBe(
        'created',
      );
      const d = await run(['docker', 'info', '--format', '{{json .}}', '--all'], { timeoutMs: 10_000 });
      expect(d).toMatchObject({ exitCode: 1, stderr: 'unknown flag: --all\n' });
    });
  });
});
