import { beforeAll, describe, expect, it } from 'vitest';
import { homelabApps, homelabProfile, recordedFacts } from '../../test/helpers/upgrade.ts';
import type { GitopsApp } from './gitops.ts';
import { choosePath } from './hops.ts';
import { loadJq, type Jq } from './ignore.ts';
import { diffFields, maskedChanges } from './masking.ts';
import { buildPlanReport, checkBehaviour, checkHosts, checkIgnore, checkValues } from './plan.ts';
import { recordedRender } from './recorded.ts';

let jq: Jq;
beforeAll(async () => {
  jq = await loadJq();
});

const withApp = (apps: GitopsApp[], chart: string, change: (a: GitopsApp) => GitopsApp) =>
  apps.map((a) => (a.chart === chart ? change(a) : a));

describe('check 7c: ignoreDifferences hiding chart changes (recorded renders of the homelab Applications)', () => {
  it('finds that the homelab’s `.metadata.labels` rule on DaemonSets freezes their version label 1.28.3 → 1.29.6', () => {
    const apps = homelabApps();
    const cni = apps.find((a) => a.chart === 'cni') as GitopsApp;
    const req = { chart: cni.chart, release: cni.releaseName, namespace: cni.namespace, values: cni.values };
    const before = recordedRender('1.28.3', req);
    const after = recordedRender('1.29.6', req);
    if (!before || !after) throw new Error('recorded renders missing');
    const r = maskedChanges(jq, cni.ignoreDifferences, before.objects, after.objects);
    expect(r.masked.map((m) => [m.object, m.path, m.before, m.after, m.hiddenBy])).toEqual([
      [
        'DaemonSet.apps istio-system/istio-cni-node',
        '.metadata.labels["app.kubernetes.io/version"]',
        '1.28.3',
        '1.29.6',
        ['group "apps" kind DaemonSet: .metadata.labels'],
      ],
      [
        'DaemonSet.apps istio-system/istio-cni-node',
        '.metadata.labels["helm.sh/chart"]',
        'cni-1.28.3',
        'cni-1.29.6',
        ['group "apps" kind DaemonSet: .metadata.labels'],
      ],
    ]);
    // The grace period 5 → 30 is in the pod template, which no rule touches: visible, not masked.
    const ds = (objs: Record<string, unknown>[]) => objs.find((o) => o.kind === 'DaemonSet');
    expect(diffFields(ds(before.objects), ds(after.objects)).map((c) => c.path)).toContain(
      '.spec.template.spec.terminationGracePeriodSeconds',
    );
  });

  it('fails with RespectIgnoreDifferences=true, warns without it, and runs for every hop with recorded renders', () => {
    const choice = choosePath('1.28.3', '1.30.3', { via: ['1.29.6'] });
    const r = checkIgnore(choice, homelabApps(), recordedFacts, jq);
    expect(r.status).toBe('fail');
    expect(r.evidence.filter((e) => e.status === 'fail').map((e) => e.text.split(':')[0])).toEqual([
      'istio-cni 1.28.3 → 1.29.6',
      'istio-cni 1.28.3 → 1.29.6',
      'istio-cni 1.29.6 → 1.30.3',
      'istio-cni 1.29.6 → 1.30.3',
      'istio-ztunnel 1.28.3 → 1.29.6',
      'istio-ztunnel 1.28.3 → 1.29.6',
      'istio-ztunnel 1.29.6 → 1.30.3',
      'istio-ztunnel 1.29.6 → 1.30.3',
    ]);
    const noRespect = homelabApps().map((a) => ({ ...a, syncOptions: ['ServerSideApply=true'] }));
    expect(checkIgnore(choice, noRespect, recordedFacts, jq).status).toBe('warn');
  });

  it('a rule on a field the chart changes (the CNI grace period) is reported with the rule that hides it', () => {
    const apps = withApp(homelabApps(), 'cni', (a) => ({
      ...a,
      ignoreDifferences: [
        {
          group: 'apps',
          kind: 'DaemonSet',
          jsonPointers: ['/spec/template/spec/terminationGracePeriodSeconds'],
          jqPathExpressions: [],
          managedFieldsManagers: [],
        },
      ],
    })).filter((a) => a.chart === 'cni');
    const r = checkIgnore(choosePath('1.28.3', '1.29.6'), apps, recordedFacts, jq);
    expect(r.evidence.find((e) => e.status === 'fail')?.text).toBe(
      'istio-cni 1.28.3 → 1.29.6: DaemonSet.apps istio-system/istio-cni-node .spec.template.spec.terminationGracePeriodSeconds: 5 → 30 is hidden by group "apps" kind DaemonSet: /spec/template/spec/terminationGracePeriodSeconds; with RespectIgnoreDifferences=true the sync keeps the live value, so it is never applied',
    );
  });

  it('says it could not run when a version on the path has no render, and what managedFieldsManagers needs', () => {
    const apps = withApp(homelabApps(), 'istiod', (a) => ({
      ...a,
      ignoreDifferences: [
        ...a.ignoreDifferences,
        {
          group: 'admissionregistration.k8s.io',
          kind: 'ValidatingWebhookConfiguration',
          jsonPointers: [],
          jqPathExpressions: [],
          managedFieldsManagers: ['pilot-discovery'],
        },
      ],
    }));
    const r = checkIgnore(choosePath('1.28.3', '1.31.1'), apps, recordedFacts, jq);
    expect(r.status).toBe('not-run');
    expect(r.summary).toMatch(
      /^could not run for 1\.29\.8, 1\.30\.5, 1\.31\.1: no render of their charts, so no hop could be evaluated/,
    );
    expect(r.evidence.map((e) => e.text)).toContain(
      'istiod: managedFieldsManagers pilot-discovery on ValidatingWebhookConfiguration: hides whatever those managers own in the live objects; not evaluated offline (needs live managedFields)',
    );
  });

  it('fails an expression Argo CD could not compile', () => {
    const apps = withApp(homelabApps(), 'base', (a) => ({
      ...a,
      ignoreDifferences: [
        {
          group: '*',
          kind: '*',
          jsonPointers: [],
          jqPathExpressions: ['.metadata.labels['],
          managedFieldsManagers: [],
        },
      ],
    })).filter((a) => a.chart === 'base');
    const text = checkIgnore(choosePath('1.28.3', '1.28.10'), apps, recordedFacts, jq).evidence[0]?.text;
    expect(text).toMatch(
      /^istio-base: jqPathExpression "\.metadata\.labels\[" does not compile as del\(\.metadata\.labels\[\): syntax error/,
    );
    // jq's own text, one line, without the wrapper the plan compiles it in.
    expect(text).not.toContain('if false');
    expect(text).not.toContain('\n');
  });

  it('a stop without a render makes the check NOT RUN and is the version the summary names', () => {
    const apps = homelabApps().filter((a) => a.chart === 'cni');
    const r = checkIgnore(choosePath('1.28.3', '1.30.3', { via: ['1.29.8'] }), apps, recordedFacts, jq);
    expect(r.status).toBe('not-run');
    expect(r.summary).toMatch(
      /^could not run for 1\.29\.8: no render of its charts, so no hop could be evaluated/,
    );
  });
});

describe('check 5: values keys, on the profile and the Applications', () => {
  it('passes the homelab values to 1.30.3 and fails a misspelt key with its suggestion', () => {
    const path = ['1.28.3', '1.29.6', '1.30.3'];
    const ok = checkValues(
      path,
      [{ label: 'profile release istiod', chart: 'istiod', values: { profile: 'ambient', replicaCount: 1 } }],
      recordedFacts,
    );
    expect(ok.status).toBe('pass');
    const bad = checkValues(
      path,
      [{ label: 'Application istiod', chart: 'istiod', values: { replicaCnt: 1 } }],
      recordedFacts,
    );
    expect(bad.status).toBe('fail');
    expect(bad.evidence[0]?.text).toBe(
      'Application istiod at 1.29.6: replicaCnt: no template reads it and values.yaml has no default for it (did you mean replicaCount?); Helm ignores it without a word',
    );
  });

  it('could not run for a target without an inventory, and says why', () => {
    const r = checkValues(
      ['1.28.3', '1.29.8'],
      [{ label: 'profile release istiod', chart: 'istiod', values: { replicaCount: 1 } }],
      recordedFacts,
    );
    expect(r.status).toBe('not-run');
    expect(r.evidence[0]?.text).toBe(
      'not checked at 1.29.8: no recorded inventory of istiod 1.29.8 (profile release istiod)',
    );
  });

  it('is NOT RUN, naming exactly the versions it could not check, when any version on the path is missing', () => {
    const values = [
      { label: 'profile release istiod', chart: 'istiod' as const, values: { replicaCount: 1 } },
    ];
    // 1.29.8 (a stop) has no inventory, 1.30.3 (the target) has one: not PASS.
    const stop = checkValues(['1.28.3', '1.29.8', '1.30.3'], values, recordedFacts);
    expect(stop.status).toBe('not-run');
    expect(stop.summary).toMatch(/^could not run for 1\.29\.8: .*; checked at 1\.30\.3 only$/);
    expect(stop.summary).not.toContain('every values key');
    const all = checkValues(['1.28.3', '1.29.8', '1.30.5', '1.31.1'], values, recordedFacts);
    expect(all.summary).toMatch(
      /^could not run for 1\.29\.8, 1\.30\.5, 1\.31\.1: no key inventory of their charts/,
    );
  });
});

describe('check 6: behaviour changes', () => {
  it('lists the changes crossing 1.28.3 → 1.31.1 with sources, and compatibilityVersion', () => {
    const r = checkBehaviour(
      ['1.28.3', '1.31.1'],
      ['default'],
      [{ label: 'profile release istio-cni', values: {} }],
    );
    expect(r.status).toBe('pass');
    expect(r.evidence.map((e) => e.text.split(':')[0])).toEqual([
      'istiod (since 1.28.4, 1.29.0)',
      'istiod (since 1.28.5, 1.29.1, 1.30.0)',
      'istiod (since 1.28.7, 1.29.3, 1.30.0)',
      'charts (since 1.28.6, 1.29.2, 1.30.0)',
      'istio-cni (since 1.29.0)',
      'istio-cni (since 1.29.0)',
      'istio-cni (since 1.30.0)',
      'istio-cni (since 1.30.0)',
      'istiod (since 1.30.0)',
      'istiod (since 1.30.0)',
      'charts (since 1.31.0)',
      "to keep 1.28's defaults for a while, set compatibilityVersion",
    ]);
    expect(r.evidence.every((e) => e.source !== undefined)).toBe(true);
    expect(checkBehaviour(['1.30.3', '1.30.5'], [], []).evidence).toEqual([]);
  });

  it('a backport: 1.28.5 → 1.29.0 loses the XDS debug authentication 1.29 gets only in 1.29.1 (WARN), 1.28.5 → 1.29.1 keeps it', () => {
    const lost = checkBehaviour(['1.28.5', '1.29.0'], [], []);
    expect(lost.status).toBe('warn');
    expect(lost.summary).toContain('1.28.5 → 1.29.0 loses xds-debug-auth (1.29 has it from 1.29.1)');
    expect(lost.evidence.filter((e) => e.status === 'warn').map((e) => e.text.split(':')[0])).toEqual([
      '1.28.5 → 1.29.0 loses a change 1.28.5 has',
    ]);
    const kept = checkBehaviour(['1.28.5', '1.29.1'], [], []);
    expect(kept.status).toBe('pass');
    expect(kept.evidence.some((e) => e.text.includes('15010'))).toBe(false); // neither crossed nor lost
    // 1.28.3 → 1.29.0: A lacks it and B lacks it, so it is not crossed; → 1.29.1 crosses it.
    const has15010 = (p: string[]) =>
      checkBehaviour(p, [], []).evidence.some((e) => e.text.includes('15010'));
    expect(has15010(['1.28.3', '1.29.0'])).toBe(false);
    expect(has15010(['1.28.3', '1.29.1'])).toBe(true);
    // The webhook failurePolicy backport has the same shape: 1.28.6, then 1.29.2.
    expect(checkBehaviour(['1.28.6', '1.29.1'], [], []).summary).toContain(
      '1.28.6 → 1.29.1 loses webhook-failure-policy-upgrade (1.29 has it from 1.29.2)',
    );
  });

  it('a change only a stop has (the 1.30 default hub) says so, and is no loss at 1.31', () => {
    const r = checkBehaviour(['1.29.6', '1.30.3', '1.31.1'], [], []);
    expect(r.status).toBe('pass');
    expect(r.evidence.find((e) => e.text.startsWith('charts (since 1.30.0, none in 1.31)'))?.text).toContain(
      '(at 1.30.3 only; 1.31.1 lacks it)',
    );
  });

  it('fails a meshed namespace in the CNI’s excludeNamespaces when the path reaches 1.30', () => {
    const cni = [
      { label: 'Application istio-cni', values: { cni: { excludeNamespaces: ['kube-system', 'loki'] } } },
    ];
    const r = checkBehaviour(['1.28.3', '1.29.8', '1.30.5'], ['default', 'loki'], cni);
    expect(r.status).toBe('fail');
    expect(r.evidence.find((e) => e.status === 'fail')?.text).toBe(
      'Application istio-cni: excludeNamespaces (kube-system, loki) lists the meshed namespace loki: from 1.30.0 the CNI agent un-enrolls its pods at the CNI upgrade',
    );
    expect(checkBehaviour(['1.28.3', '1.29.8'], ['default', 'loki'], cni).status).toBe('pass');
  });
});

describe('check 4: hosts', () => {
  it('passes the profile on blob.istio.io and notes the hub the plan sets for 1.30', () => {
    const r = checkHosts(['1.28.3', '1.29.8', '1.30.5', '1.31.1'], homelabProfile, undefined, '2026-11-30');
    expect(r.status).toBe('pass');
    expect(r.evidence[0]?.text).toContain(
      'Istio 1.30.5: the published charts default the hub to registry.istio.io/release',
    );
  });

  it('fails the homelab Applications’ retired repoURL for 1.31 and warns the hub they lack for 1.30', () => {
    const r = checkHosts(
      ['1.28.3', '1.29.8', '1.30.5', '1.31.1'],
      homelabProfile,
      homelabApps(),
      '2026-11-30',
    );
    expect(r.status).toBe('fail');
    expect(r.summary).toBe(
      '4 references point at a host that never published 1.31.1: Application istio-base repoURL, Application istio-cni repoURL, Application istio-ztunnel repoURL, Application istiod repoURL',
    );
    expect(r.evidence.filter((e) => e.status === 'warn').map((e) => e.text)).toEqual([
      'Istio 1.30.5: istio-cni, istio-ztunnel, istiod set no hub, so their images would come from the chart default registry.istio.io/release (retired December 2026); add global.hub: docker.io/istio to their values before the 1.30 hop',
    ]);
  });

  it('a profile on the retired repository fails for 1.31 (never published there)', () => {
    const old = { ...homelabProfile, chartRepository: 'https://istio-release.storage.googleapis.com/charts' };
    expect(checkHosts(['1.30.5', '1.31.1'], old, undefined, '2026-11-30').status).toBe('fail');
    expect(checkHosts(['1.29.8', '1.30.5'], old, undefined, '2026-11-30').status).toBe('warn');
  });

  it('--date judges retirement: a retired host warns before 2026-12-01 and fails from then on', () => {
    const old = { ...homelabProfile, chartRepository: 'https://istio-release.storage.googleapis.com/charts' };
    const before = checkHosts(['1.29.8', '1.30.5'], old, undefined, '2026-11-30');
    expect(before.status).toBe('warn');
    const after = checkHosts(['1.29.8', '1.30.5'], old, undefined, '2027-03-01');
    expect(after.status).toBe('fail');
    expect(after.summary).toBe(
      '1 reference points at a host retired by the run date 2027-03-01 (Istio switches them off in December 2026; judged from 2026-12-01): profile profiles/homelab/profile.yaml: istio.chartRepository',
    );
    expect(after.evidence[0]?.status).toBe('fail');
    expect(after.evidence[0]?.text).toContain('taken as switched off on the run date 2027-03-01');
    // The 1.30 chart default hub (registry.istio.io/release) is retired too.
    const apps = checkHosts(['1.29.8', '1.30.5'], homelabProfile, homelabApps(), '2026-12-01');
    expect(apps.status).toBe('fail');
    expect(apps.summary).toContain('the 1.30.5 chart default hub');
  });
});

describe('the whole plan', () => {
  it('1.28.3 → 1.31.1 with the homelab Applications: every check, the steps per Application, exit 1', () => {
    const r = buildPlanReport({
      from: '1.28.3',
      to: '1.31.1',
      runDate: '2026-11-30',
      profile: homelabProfile,
      pinnedKind: 'v0.30.0',
      gitops: { dir: 'profiles/homelab/argocd', apps: homelabApps() },
      facts: recordedFacts,
      jq,
    });
    expect(r.path).toEqual(['1.28.3', '1.29.8', '1.30.5', '1.31.1']);
    expect(r.checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'hops:pass',
      'kubernetes:pass',
      'releases:warn', // 1.29 (a stop) is past end of life on 2026-11-30, 1.30 near it
      'hosts:fail',
      'values:not-run',
      'behaviour:pass',
      'gitops-waves:pass',
      'gitops-staging:pass',
      'gitops-ignore:not-run',
    ]);
    expect(r.steps.slice(0, 4).map((s) => `${s.chart}:${s.application ?? ''}`)).toEqual([
      'base:istio-base',
      'istiod:istiod',
      'cni:istio-cni',
      'ztunnel:istio-ztunnel',
    ]);
    expect([r.verdict, r.exitCode]).toEqual(['fails', 1]);
  });

  it('without GitOps the homelab profile’s path to 1.31.1 is sound (exit 0)', () => {
    const r = buildPlanReport({
      from: '1.28.3',
      to: '1.31.1',
      runDate: '2026-11-30',
      profile: homelabProfile,
      pinnedKind: 'v0.30.0',
      facts: recordedFacts,
    });
    expect([r.verdict, r.exitCode]).toEqual(['sound', 0]);
  });
});
