import { describe, expect, it } from 'vitest';
import { homelabApps, recordedFacts } from '../../test/helpers/upgrade.ts';
import { UserInputError } from '../errors.ts';
import { isChartRevision, parseGitops, syncOption, type GitopsApp } from './gitops.ts';
import { choosePath } from './hops.ts';
import { checkStaging, checkValues, checkWaves } from './plan.ts';

function parse(text: string, extra: Record<string, string> = {}): GitopsApp[] {
  const files = new Map([['apps.yaml', text], ...Object.entries(extra)]);
  return parseGitops({ dir: 'g', files, readValuesFile: (rel) => files.get(rel) });
}

function refused(text: string): UserInputError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const app = (name: string, chart: string, wave: number | string, rev = '1.28.3', more = '') => `---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: ${name}, annotations: { argocd.argoproj.io/sync-wave: '${wave}' } }
spec:
  source: { repoURL: https://blob.istio.io/istio-release/charts, chart: ${chart}, targetRevision: ${rev} }
  destination: { namespace: istio-system }
${more}`;

describe('reading the homelab’s Argo CD Applications', () => {
  it('finds the four Istio Applications, their waves, values and ignore rules', () => {
    const apps = homelabApps();
    expect(apps.map((a) => [a.name, a.chart, a.wave, a.targetRevision, a.releaseName])).toEqual([
      ['istio-base', 'base', -45, '1.28.3', 'istio-base'],
      ['istio-cni', 'cni', -43, '1.28.3', 'istio-cni'],
      ['istio-ztunnel', 'ztunnel', -42, '1.28.3', 'ztunnel'],
      ['istiod', 'istiod', -44, '1.28.3', 'istiod'],
    ]);
    const istiod = apps.find((a) => a.chart === 'istiod');
    expect(istiod?.values).toMatchObject({ profile: 'ambient', replicaCount: 1 });
    expect(istiod?.valuesFrom).toEqual(['manifests/base/istio/istiod-values.yaml']);
    const cni = apps.find((a) => a.chart === 'cni');
    expect(cni && syncOption(cni, 'RespectIgnoreDifferences')).toBe(true);
    expect(cni?.ignoreDifferences.find((r) => r.kind === 'DaemonSet')?.jqPathExpressions).toContain(
      '.metadata.labels',
    );
  });

  it('merges values as Argo CD does: valueFiles < valuesObject (which replaces values) < parameters', () => {
    const [a] = parse(
      app(
        'istiod',
        'istiod',
        1,
        '1.28.3',
        `  sources:
    - repoURL: https://blob.istio.io/istio-release/charts
      chart: istiod
      targetRevision: 1.28.3
      helm:
        valueFiles: [$v/base.yaml, inside-the-chart.yaml]
        values: |
          a: from-values
          b: from-values
        valuesObject: { b: from-object, c: from-object }
        parameters: [{ name: c, value: from-parameter }, { name: d.e, value: '1' }]
    - { repoURL: https://git.example.invalid/x.git, ref: v }
`,
      ).replace(/  source: .*\n/, ''),
      { 'base.yaml': 'a: from-file\nz: from-file\n' },
    );
    // argo-cd@v3.5.1 ValuesYAML: valuesObject when set, `values` only otherwise; never both.
    expect(a?.values).toEqual({
      a: 'from-file',
      b: 'from-object',
      c: 'from-parameter',
      d: { e: '1' },
      z: 'from-file',
    });
    expect(a?.valuesIgnored).toBe(true);
    expect(a?.valuesFrom).toEqual(['base.yaml', 'helm.valuesObject', 'helm.parameters']);
    expect(a?.unresolvedValueFiles).toEqual([
      {
        file: 'inside-the-chart.yaml',
        reason: 'unreadable',
        why: 'a path inside the chart (relative to the chart source), not read by the plan',
      },
    ]);
  });

  it('uses helm.values when there is no valuesObject', () => {
    const [a] = parse(
      app('istiod', 'istiod', 1, '1.28.3').replace(
        /chart: istiod, targetRevision: 1.28.3 \}/,
        "chart: istiod, targetRevision: 1.28.3, helm: { values: 'a: from-values' } }",
      ),
    );
    expect(a?.values).toEqual({ a: 'from-values' });
    expect(a?.valuesIgnored).toBeUndefined();
  });
});

describe('value files the plan does not read are reported in the values check', () => {
  const withFiles = (helm: string) =>
    `---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: istiod }
spec:
  sources:
    - repoURL: https://blob.istio.io/istio-release/charts
      chart: istiod
      targetRevision: 1.28.3
      helm: ${helm}
    - { repoURL: https://git.example.invalid/x.git, ref: v }
  destination: { namespace: istio-system }
`;
  const values = (apps: GitopsApp[]) =>
    checkValues(
      ['1.28.3', '1.29.6'],
      apps.map((a) => ({
        label: `Application ${a.name}`,
        chart: a.chart,
        values: a.values,
        unresolved: a.unresolvedValueFiles,
        ignoreMissingValueFiles: a.ignoreMissingValueFiles,
        ...(a.valuesIgnored ? { valuesIgnored: true } : {}),
      })),
      recordedFacts,
    );

  it('fails a $ref value file missing from the folder: Argo CD cannot render the Application', () => {
    const apps = parse(withFiles('{ valueFiles: [$v/missing.yaml] }'));
    expect(apps[0]?.unresolvedValueFiles).toEqual([
      { file: '$v/missing.yaml', reason: 'missing', why: 'no file missing.yaml in g' },
    ]);
    const r = values(apps);
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('a value file is missing, so Argo CD cannot render Application istiod');
    expect(r.evidence.find((e) => e.status === 'fail')?.text).toContain(
      'unless helm.ignoreMissingValueFiles is true',
    );
  });

  it('with ignoreMissingValueFiles: true the file is skipped, as Argo CD skips it', () => {
    const apps = parse(withFiles('{ ignoreMissingValueFiles: true, valueFiles: [$v/missing.yaml] }'));
    expect(apps[0]?.ignoreMissingValueFiles).toBe(true);
    const r = values(apps);
    expect(r.status).toBe('pass');
    expect(r.evidence.map((e) => e.text)).toContain(
      'Application istiod: valueFiles $v/missing.yaml: no file missing.yaml in g; skipped, as Argo CD skips it (helm.ignoreMissingValueFiles: true)',
    );
  });

  it('a value file the plan cannot read (a URL, an unknown ref) makes the check NOT RUN, never PASS', () => {
    const r = values(parse(withFiles('{ valueFiles: [https://example.invalid/v.yaml, $nope/a.yaml] }')));
    expect(r.status).toBe('not-run');
    expect(r.summary).toBe('values of Application istiod come partly from files the plan cannot read');
    expect(r.evidence.filter((e) => e.status === 'not-run').map((e) => e.text)).toEqual([
      'Application istiod: valueFiles https://example.invalid/v.yaml: a URL, not fetched by the plan; the keys it sets are not checked',
      'Application istiod: valueFiles $nope/a.yaml: no source of the Application has ref: nope; the keys it sets are not checked',
    ]);
  });

  it('warns a helm.values that valuesObject makes Argo CD ignore', () => {
    const r = values(parse(withFiles("{ values: 'replicaCount: 2', valuesObject: { replicaCount: 1 } }")));
    expect(r.status).toBe('warn');
    expect(r.summary).toBe('Argo CD ignores helm.values of Application istiod');
  });
});

describe('malformed GitOps folders are refused (exit 2) with what was expected and seen', () => {
  it.each([
    ['YAML that does not parse', 'kind: [', /apps\.yaml: document 1/, /YAML/],
    [
      'a sync wave that is not an integer',
      app('istiod', 'istiod', 'early'),
      /sync-wave/,
      /an integer as a string/,
    ],
    [
      'a rule without kind',
      app('istiod', 'istiod', 1, '1.28.3', '  ignoreDifferences: [{ group: apps }]'),
      /ignoreDifferences\[0\]\.kind/,
      /requires it/,
    ],
    [
      'an Application without a source',
      'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: { name: x }\nspec: { project: default }',
      /spec\.source/,
      /spec\.source or spec\.sources/,
    ],
    [
      'two Applications for one chart',
      app('a', 'cni', 1) + app('b', 'cni', 2),
      /two Applications deploy the cni chart/,
      /one Application per Istio chart/,
    ],
    [
      'no Istio Application',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }',
      /no Argo CD Application deploys an Istio chart/,
      /whose Helm source has chart/,
    ],
  ])('%s', (_what, text, message, expected) => {
    const e = refused(text);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(message);
    expect(e.details.expected).toMatch(expected);
  });
});

describe('check 7a: sync waves', () => {
  it('passes the homelab’s -45 < -44 < -43 < -42', () => {
    expect(checkWaves(homelabApps()).status).toBe('pass');
  });

  it('fails ztunnel before the CNI, and warns when a chart has no Application', () => {
    const swapped = checkWaves(
      parse(app('b', 'base', 1) + app('i', 'istiod', 2) + app('c', 'cni', 4) + app('z', 'ztunnel', 3)),
    );
    expect(swapped.status).toBe('fail');
    expect(swapped.evidence.find((e) => e.status === 'fail')?.text).toBe(
      'z (ztunnel, wave 3) is not after c (cni, wave 4)',
    );
    expect(checkWaves(parse(app('i', 'istiod', 2) + app('c', 'cni', 3))).status).toBe('warn');
  });
});

describe('check 7b: one Application per step', () => {
  const four = (revs: Record<string, string>) =>
    parse(
      app('istio-base', 'base', -45, revs.base) +
        app('istiod', 'istiod', -44, revs.istiod) +
        app('istio-cni', 'cni', -43, revs.cni) +
        app('istio-ztunnel', 'ztunnel', -42, revs.ztunnel),
    );
  const choice = choosePath('1.28.3', '1.30.5');

  it('passes Applications not bumped yet (the homelab today), and base bumped first', () => {
    expect(checkStaging(choice, homelabApps()).status).toBe('pass');
    expect(
      checkStaging(choice, four({ base: '1.29.8', istiod: '1.28.3', cni: '1.28.3', ztunnel: '1.28.3' }))
        .status,
    ).toBe('pass');
  });

  it('fails all four bumped in one commit (istio/istio#53843)', () => {
    const r = checkStaging(
      choice,
      four({ base: '1.29.8', istiod: '1.29.8', cni: '1.29.8', ztunnel: '1.29.8' }),
    );
    expect(r.status).toBe('fail');
    expect(r.evidence.find((e) => e.status === 'fail')?.text).toContain('istio/istio#53843');
  });

  it('fails the data plane bumped first, and a bump that skips a minor, naming the legal path', () => {
    expect(
      checkStaging(
        choice,
        four({ base: '1.28.3', istiod: '1.28.3', cni: '1.28.3', ztunnel: '1.29.8' }),
      ).evidence.find((e) => e.status === 'fail')?.text,
    ).toBe(
      'istio-ztunnel (ztunnel) is bumped first, but a hop starts with base: the data plane would be ahead of istiod',
    );
    const skip = checkStaging(
      choice,
      four({ base: '1.30.5', istiod: '1.28.3', cni: '1.28.3', ztunnel: '1.28.3' }),
    );
    expect(skip.evidence.find((e) => e.status === 'fail')?.text).toBe(
      'istio-base → 1.30.5 skips a minor from 1.28.3; legal path: 1.28.3 → 1.29.8 → 1.30.5',
    );
  });

  it('manifests older than --from: says they disagree with --from, not "change in one step"', () => {
    // --from 1.29.6 --to 1.30.3 with the homelab's Applications, which pin 1.28.3.
    const r = checkStaging(choosePath('1.29.6', '1.30.3'), homelabApps());
    expect(r.status).toBe('fail');
    expect(r.evidence.filter((e) => e.status === 'fail').map((e) => e.text)).toEqual([
      'the manifests disagree with --from 1.29.6: istio-base pins 1.28.3, istiod pins 1.28.3, istio-cni pins 1.28.3, istio-ztunnel pins 1.28.3, older than --from; either the installed version is 1.28.3 (plan with --from 1.28.3), or the folder is not what is deployed',
    ]);
    expect(r.summary).toBe(
      'the manifests disagree with --from 1.29.6: every Application pins an older version (1.28.3), so there is nothing to stage from 1.29.6',
    );
    expect(r.evidence.some((e) => e.text.includes('#53843'))).toBe(false);
  });

  it('warns a targetRevision that is a range', () => {
    expect(
      checkStaging(choice, four({ base: '1.28.*', istiod: '1.28.3', cni: '1.28.3', ztunnel: '1.28.3' }))
        .status,
    ).toBe('warn');
  });
});

describe('targetRevision: a version or a semver range Argo CD resolves (Masterminds/semver)', () => {
  it.each([
    '1.31.1',
    'v1.31.1',
    '1.31.*',
    '1.31.x',
    '~1.31.0',
    '^1.30',
    '>=1.30.0 <1.32.0',
    '>= 1.30, < 1.32',
    '1.30 - 1.31',
    '1.28.3 || 1.29.x',
    '*',
    '1.29.0-rc.1',
  ])('accepts %s', (t) => expect(isChartRevision(t)).toBe(true));
  it.each(['banana', 'main', '1.31.1 banana', '>=', '1.31.1 ||', 'HEAD', `1.${'9'.repeat(300)}`])(
    'refuses %s',
    (t) => expect(isChartRevision(t)).toBe(false),
  );
});
