/**
 * The twin's chart inventory (test/twin/inventory/*.json, recorded by scripts/twin-inventory.ts from
 * the Istio charts at each tag, and from the metrics-server chart the plan installs): its shape, its
 * loader, and the chart facts the harness relies on, so neither can drift without this test
 * failing. Runs without the upstream mirror or helm.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { COMPONENT_LABEL, componentOf, type Component } from '../../harness/budget/measure.ts';
import { ambientSwitch } from '../../harness/istio/ambient-values.ts';
import { planSetsHub, retiredHostOf, SAFE_HUB } from '../../harness/istio/hosts.ts';
import { judgeAmbientEnabled, judgeReleases } from '../../harness/istio/install-checks.ts';
import { ISTIO_OBJECTS } from '../../harness/kube/ops.ts';
import { ISTIOD_WEBHOOK_PORT, ISTIOD_XDS_PORT } from '../../harness/netpol/policies.ts';
import { cniExcludedNamespaces, EMBEDDED_PROFILE, loadProfile } from '../../harness/profile/load.ts';
import { allowedBy, ISTIO_CRDS } from '../../harness/removal/leftovers.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/timeouts.ts';
import { REAL_HELM } from '../helpers/real-helm.ts';
import { DEFAULT_ENABLEMENT_SELECTORS } from './dataplane.ts';
import {
  ADDON_CHARTS,
  AddonInventory,
  addonInventoryFor,
  allObjects,
  CHART_PATHS,
  findObject,
  Inventory,
  inventoryFor,
  parseRule,
  recordedAddonInventories,
  recordedInventories,
  releaseOf,
  type ObjectSummary,
  type ValuesSet,
} from './inventory/index.ts';
import { plannedHelmInstall } from './inventory/plan-step.ts';
import { commonLabels, policyRule, summarizeManifests } from './inventory/summarize.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PINNED = (
  JSON.parse(readFileSync(path.join(ROOT, 'pins.json'), 'utf8')) as { istio: { version: string } }
).istio.version;
const RECORDED = recordedInventories();
const VERSIONS = [...new Set(RECORDED.map((r) => r.version))];
const CASES = RECORDED.map((r) => [`${r.version} ${r.values}`, r.version, r.values] as const);

const RE_RECORD =
  'the recorded inventory is stale: re-record it with scripts/twin-inventory.ts (see its header)';

/** Cluster-scoped kinds the charts render (everything else must land in the release namespace). */
const CLUSTER_SCOPED = new Set([
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${what}: not in the inventory`);
  return v;
}

function workloadOf(inv: Inventory, kind: string, name: string) {
  const o = must(findObject(inv, kind, name, inv.source.namespace), `${kind} ${name}`);
  return { object: o, workload: must(o.workload, `${kind} ${name} workload`) };
}

function containerOf(inv: Inventory, kind: string, name: string, container: string) {
  const { workload } = workloadOf(inv, kind, name);
  return must(
    workload.containers.find((c) => c.name === container),
    `${kind} ${name} container ${container}`,
  );
}

function envValue(c: { env: { name: string; value?: string }[] }, name: string): string | undefined {
  return c.env.find((e) => e.name === name)?.value;
}

/** The summary as the V1 object the harness's checks read (only the fields they look at). */
function asDeployment(o: ObjectSummary): V1Deployment {
  return {
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      selector: { matchLabels: o.workload?.selector.matchLabels },
      template: {
        metadata: { labels: o.workload?.template.labels },
        spec: {
          containers: (o.workload?.containers ?? []).map((c) => ({
            name: c.name,
            image: c.image,
            env: c.env.filter((e) => e.value !== undefined).map((e) => ({ name: e.name, value: e.value })),
          })),
        },
      },
    },
  };
}

function asConfigMap(o: ObjectSummary): V1ConfigMap {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.data ?? {})) if (typeof v === 'string') data[k] = v;
  return { metadata: { name: o.name, namespace: o.namespace }, data };
}

function cniConfig(inv: Inventory): Record<string, string> {
  const cm = must(findObject(inv, 'ConfigMap', 'istio-cni-config', inv.source.namespace), 'istio-cni-config');
  return asConfigMap(cm).data ?? {};
}

describe('recorded chart inventory: files and shape', () => {
  it('records the pinned Istio version (pins.json, profiles/homelab) under both value sets', () => {
    const profile = loadProfile(EMBEDDED_PROFILE);
    expect(profile.doc.istio.version).toBe(PINNED);
    for (const values of ['defaults', 'homelab'] as const)
      expect(RECORDED, `${PINNED} ${values}: ${RE_RECORD}`).toContainEqual(
        expect.objectContaining({ version: PINNED, values }),
      );
    // Every recorded version has both sets.
    for (const v of VERSIONS)
      expect(RECORDED.filter((r) => r.version === v).map((r) => r.values)).toEqual(['defaults', 'homelab']);
  });

  it('keeps the files small (summaries, not manifests)', () => {
    const total = RECORDED.reduce((n, r) => n + statSync(r.file).size, 0);
    expect(total).toBeLessThan(450_000);
    for (const r of RECORDED) expect(statSync(r.file).size, r.file).toBeLessThan(100_000);
  });

  it.each(CASES)('%s: the file matches the schema and names its source', (_, version, values) => {
    const file = must(
      RECORDED.find((r) => r.version === version && r.values === values),
      `${version} ${values}`,
    ).file;
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    const inv = Inventory.parse(raw);
    expect(inv.source).toMatchObject({ repository: 'istio/istio', tag: version, values });
    expect(inv.source.generatedBy).toBe('scripts/twin-inventory.ts');
    expect(inv.source.charts).toEqual(Object.values(CHART_PATHS));
    expect(inv.source.stamp).toMatchObject({
      repository: 'istio/release-builder',
      branch: `release-${version.split('.').slice(0, 2).join('.')}`,
      version,
    });
    // Rendered by the pinned Helm 4 of test/helpers/real-helm.ts; Helm 3 agreed.
    const helm4 = must(
      REAL_HELM.find((p) => p.major === 4),
      'Helm 4 pin',
    );
    const helm3 = must(
      REAL_HELM.find((p) => p.major === 3),
      'Helm 3 pin',
    );
    expect(inv.source.helm.startsWith(`${helm4.version}+`)).toBe(true);
    expect(inv.source.helmAgrees.map((v) => v.split('+')[0])).toEqual([helm3.version]);
    // The release names, charts and namespace are the embedded profile's.
    const profile = loadProfile(EMBEDDED_PROFILE, { istioVersion: version });
    expect(inv.source.namespace).toBe(profile.doc.istio.namespace);
    expect(inv.source.kubeVersion).toBe(profile.kubernetesVersion);
    expect(Object.keys(inv.releases)).toEqual(profile.releases.map((r) => r.name));
    for (const r of profile.releases) {
      const rec = must(inv.releases[r.name], `release ${r.name}`);
      expect(rec.chart).toBe(r.chart);
      expect(rec.chartPath).toBe(CHART_PATHS[r.chart]);
      expect(rec.objects.length).toBeGreaterThan(0);
      // The file leaves the common labels out of each object, and they are common.
      for (const o of rec.objects)
        for (const k of Object.keys(rec.commonLabels))
          expect(o.labels[k], `${o.kind} ${o.name}`).toBeUndefined();
    }
    // Object identities are unique.
    const ids = allObjects(inv).map((o) => `${o.kind} ${o.namespace ?? ''}/${o.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(VERSIONS)(
    '%s homelab: values, files and --set entries are what the plan passes today (else re-record)',
    (version) => {
      const inv = inventoryFor(version, 'homelab');
      const profile = loadProfile(EMBEDDED_PROFILE, { istioVersion: version });
      for (const r of profile.releases) {
        const rec = must(inv.releases[r.name], `release ${r.name}`);
        expect(rec.valuesFiles, `${r.name}: ${RE_RECORD}`).toEqual(
          r.valuesPath === undefined ? [] : [path.relative(ROOT, r.valuesPath)],
        );
        expect(rec.values, `${r.name}: ${RE_RECORD}`).toEqual(r.effectiveValues);
        expect(rec.set, `${r.name}: ${RE_RECORD}`).toEqual(r.planSet);
      }
      const defaults = inventoryFor(version, 'defaults');
      for (const rec of Object.values(defaults.releases)) {
        expect(rec.valuesFiles).toEqual([]);
        expect(rec.values).toEqual({});
        expect(rec.set).toEqual([]);
      }
    },
  );
});

/** Helm's install order (helm v4.1.4 pkg/release/v1/util/kind_sorter.go InstallOrder), for the kinds the charts render. */
const INSTALL_ORDER = [
  'ServiceAccount',
  'ConfigMap',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
];

describe('what each release creates', () => {
  it(`${PINNED} homelab: the objects of each release (kind and name; CRDs counted)`, () => {
    const inv = inventoryFor(PINNED, 'homelab');
    const ids = (release: string) =>
      (inv.releases[release]?.objects ?? [])
        .filter((o) => o.kind !== 'CustomResourceDefinition')
        .map((o) => `${o.kind} ${o.name}`);
    expect(ids('istio-base')).toEqual([
      'ServiceAccount istio-reader-service-account',
      'ValidatingWebhookConfiguration istiod-default-validator',
    ]);
    expect(
      inv.releases['istio-base']?.objects.filter((o) => o.kind === 'CustomResourceDefinition'),
    ).toHaveLength(14);
    expect(ids('istiod')).toEqual([
      'ServiceAccount istiod',
      'ConfigMap values',
      'ConfigMap istio',
      'ConfigMap istio-sidecar-injector',
      'ClusterRole istiod-clusterrole-istio-system',
      'ClusterRole istiod-gateway-controller-istio-system',
      'ClusterRole istio-reader-clusterrole-istio-system',
      'ClusterRoleBinding istiod-clusterrole-istio-system',
      'ClusterRoleBinding istiod-gateway-controller-istio-system',
      'ClusterRoleBinding istio-reader-clusterrole-istio-system',
      'Role istiod',
      'RoleBinding istiod',
      'Service istiod',
      'Deployment istiod',
      'MutatingWebhookConfiguration istio-sidecar-injector',
      'ValidatingWebhookConfiguration istio-validator-istio-system',
    ]);
    expect(ids('istio-cni')).toEqual([
      'ServiceAccount istio-cni',
      'ConfigMap istio-cni-config',
      'ClusterRole istio-cni',
      'ClusterRole istio-cni-repair-role',
      'ClusterRole istio-cni-ambient',
      'ClusterRoleBinding istio-cni',
      'ClusterRoleBinding istio-cni-repair-rolebinding',
      'ClusterRoleBinding istio-cni-ambient',
      'DaemonSet istio-cni-node',
    ]);
    expect(ids('ztunnel')).toEqual(['ServiceAccount ztunnel', 'DaemonSet ztunnel']);
  });

  it.each(CASES)('%s: objects come in Helm’s install order', (_, version, values) => {
    for (const [name, r] of Object.entries(inventoryFor(version, values).releases)) {
      const ranks = r.objects.map((o) => INSTALL_ORDER.indexOf(o.kind));
      expect(ranks, `${name}: a kind missing from INSTALL_ORDER`).not.toContain(-1);
      expect(ranks, name).toEqual([...ranks].sort((a, b) => a - b));
    }
  });

  it.each(CASES)(
    '%s: every binding refers to a role and service account the releases create',
    (_, version, values) => {
      const inv = inventoryFor(version, values);
      for (const b of allObjects(inv).filter((o) => o.roleRef)) {
        expect(
          findObject(inv, b.roleRef?.kind ?? '', b.roleRef?.name ?? '', b.namespace),
          `${b.kind} ${b.name}`,
        ).toBeDefined();
        for (const s of b.subjects ?? [])
          if (s.kind === 'ServiceAccount')
            expect(
              findObject(inv, 'ServiceAccount', s.name, s.namespace),
              `${b.name} -> ${s.name}`,
            ).toBeDefined();
      }
      for (const o of allObjects(inv).filter((x) => x.workload?.serviceAccountName))
        expect(
          findObject(inv, 'ServiceAccount', o.workload?.serviceAccountName ?? '', o.namespace),
        ).toBeDefined();
    },
  );
});

describe('inventory loader', () => {
  it('restores the common labels, and hands out copies', () => {
    const inv = inventoryFor(PINNED, 'homelab');
    const { object } = workloadOf(inv, 'DaemonSet', 'ztunnel');
    expect(object.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'Helm',
      'app.kubernetes.io/instance': 'ztunnel',
      'helm.sh/chart': `ztunnel-${PINNED}`,
    });
    object.labels.changed = 'yes';
    expect(
      workloadOf(inventoryFor(PINNED, 'homelab'), 'DaemonSet', 'ztunnel').object.labels.changed,
    ).toBeUndefined();
    expect(releaseOf(inv, 'cni').name).toBe('istio-cni');
  });

  it('names the recorded versions when asked for another', () => {
    expect(() => inventoryFor('1.27.0', 'homelab')).toThrow(
      new RegExp(
        `no chart inventory for Istio 1\\.27\\.0 with homelab values \\(recorded: .*${PINNED.replace(/\./g, '\\.')} \\(homelab\\)`,
      ),
    );
  });

  it('lists recorded versions in version order', () => {
    const sorted = [...VERSIONS].sort((a, b) => {
      const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
      return (x[0] ?? 0) - (y[0] ?? 0) || (x[1] ?? 0) - (y[1] ?? 0) || (x[2] ?? 0) - (y[2] ?? 0);
    });
    expect(VERSIONS).toEqual(sorted);
  });

  it('RBAC rule lines round-trip through parseRule', () => {
    const rules = [
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get'], resourceNames: ['istio-cni-node'] },
      { apiGroups: ['', 'apps'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ];
    for (const r of rules) expect(parseRule(policyRule(r))).toEqual(r);
    expect(policyRule(rules[1])).toBe('groups=apps resources=daemonsets verbs=get names=istio-cni-node');
    expect(policyRule(rules[0])).toBe('groups=core resources=pods,nodes verbs=get,list,watch');
  });
});

describe('summarizeManifests (the script’s summaries, on a hand-written manifest)', () => {
  const manifest = [
    '---',
    '# Source: demo/templates/daemonset.yaml',
    'apiVersion: apps/v1',
    'kind: DaemonSet',
    'metadata:',
    '  name: agent',
    '  namespace: ns',
    '  labels: {app: agent, helm.sh/chart: demo-1.0.0}',
    `  annotations: {long: "${'x'.repeat(300)}", helm.sh/resource-policy: keep}`,
    'spec:',
    '  selector: {matchLabels: {app: agent}}',
    '  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}',
    '  template:',
    '    metadata: {labels: {app: agent}, annotations: {prometheus.io/port: "15020"}}',
    '    spec:',
    '      serviceAccountName: agent',
    '      hostNetwork: true',
    '      containers:',
    '      - name: main',
    '        image: example/agent:1.0.0',
    '        args: [run]',
    '        ports: [{name: stats, containerPort: 15020, protocol: TCP}]',
    '        env:',
    '        - {name: PLAIN, value: "true"}',
    '        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}',
    '        - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}}',
    '        - {name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: k}}}',
    '        readinessProbe: {httpGet: {port: 15021, path: /healthz/ready}, periodSeconds: 3}',
    '        resources: {requests: {cpu: 10m, memory: 64Mi}}',
    '        securityContext: {privileged: true, capabilities: {add: [NET_ADMIN], drop: [ALL]}}',
    '        volumeMounts: [{name: run, mountPath: /var/run/agent}]',
    '      volumes:',
    '      - {name: run, hostPath: {path: /var/run/agent, type: DirectoryOrCreate}}',
    '      - {name: cfg, configMap: {name: agent-config, optional: true}}',
    '      - {name: tok, projected: {sources: [{serviceAccountToken: {audience: istio-ca, path: t}}]}}',
    '---',
    '# Source: demo/templates/cm.yaml',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: agent-config, namespace: ns}',
    `data: {short: "a", long: "${'y'.repeat(2000)}"}`,
    '---',
    '# Source: demo/templates/empty.yaml',
    '',
  ].join('\n');

  it('keeps the facts and digests what is long', () => {
    const [ds, cm, ...rest] = summarizeManifests(manifest);
    expect(rest).toEqual([]);
    expect(ds).toMatchObject({
      kind: 'DaemonSet',
      name: 'agent',
      namespace: 'ns',
      template: 'demo/templates/daemonset.yaml',
      labels: { app: 'agent', 'helm.sh/chart': 'demo-1.0.0' },
      annotations: {
        'helm.sh/resource-policy': 'keep',
        long: expect.stringMatching(/^sha256:[0-9a-f]{16} \(300 bytes\)$/),
      },
    });
    expect(ds?.workload).toEqual({
      selector: { matchLabels: { app: 'agent' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: { labels: { app: 'agent' }, annotations: { 'prometheus.io/port': '15020' } },
      serviceAccountName: 'agent',
      hostNetwork: true,
      containers: [
        {
          name: 'main',
          image: 'example/agent:1.0.0',
          args: ['run'],
          ports: [{ name: 'stats', containerPort: 15020, protocol: 'TCP' }],
          env: [
            { name: 'PLAIN', value: 'true' },
            { name: 'NODE', from: 'fieldRef:spec.nodeName' },
            { name: 'CPU', from: 'resourceFieldRef:limits.cpu/1' },
            { name: 'TOKEN', from: 'secretKeyRef:s/k' },
          ],
          resources: { requests: { cpu: '10m', memory: '64Mi' } },
          readinessProbe: { handler: 'httpGet', port: 15021, path: '/healthz/ready', periodSeconds: 3 },
          volumeMounts: [{ name: 'run', mountPath: '/var/run/agent' }],
          securityContext: { privileged: true, capabilitiesAdd: ['NET_ADMIN'], capabilitiesDrop: ['ALL'] },
        },
      ],
      volumes: [
        { name: 'run', type: 'hostPath', path: '/var/run/agent', hostPathType: 'DirectoryOrCreate' },
        { name: 'cfg', type: 'configMap', source: 'agent-config', optional: true },
        { name: 'tok', type: 'projected', sources: ['serviceAccountToken:istio-ca'] },
      ],
    });
    expect(cm?.data).toEqual({
      short: 'a',
      long: { bytes: 2000, sha256: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    expect(commonLabels([ds!, cm!])).toEqual({});
  });
});

describe.each(CASES)('chart facts the harness relies on: %s', (_, version, values: ValuesSet) => {
  const inv = inventoryFor(version, values);
  const ns = inv.source.namespace;
  const homelab = values === 'homelab';

  it('the objects harness/kube/ops.ts ISTIO_OBJECTS waits for: kind, name, pod label selector, container', () => {
    for (const o of Object.values(ISTIO_OBJECTS)) {
      const { workload } = workloadOf(inv, o.kind, o.name);
      const [k, v] = o.selector.split('=');
      expect(workload.template.labels[k ?? ''], `${o.name} pods labelled ${o.selector}`).toBe(v);
      expect(workload.containers.map((c) => c.name)).toContain(o.container);
    }
  });

  it('the labels and pod-name prefixes budget sampling tells components by (harness/budget/measure.ts)', () => {
    const workloads: Record<Component, [string, string]> = {
      istiod: ['Deployment', 'istiod'],
      istioCniNode: ['DaemonSet', 'istio-cni-node'],
      ztunnel: ['DaemonSet', 'ztunnel'],
    };
    for (const [component, [kind, name]] of Object.entries(workloads) as [Component, [string, string]][]) {
      const { workload } = workloadOf(inv, kind, name);
      const [k, v] = COMPONENT_LABEL[component];
      expect(workload.template.labels[k]).toBe(v);
      expect(componentOf(workload.template.labels, `${name}-x7k2p`)).toBe(component);
      // metrics-server without labels: the pod name prefix alone.
      expect(componentOf(undefined, `${name}-x7k2p`)).toBe(component);
    }
  });

  it(`INSTALL-03 (judgeAmbientEnabled) ${homelab ? 'passes' : 'fails'} on the rendered istiod and istio-cni-config`, () => {
    const istiod = workloadOf(inv, 'Deployment', 'istiod').object;
    const cm = must(findObject(inv, 'ConfigMap', 'istio-cni-config', ns), 'istio-cni-config');
    const problems = judgeAmbientEnabled(asDeployment(istiod), asConfigMap(cm));
    if (homelab) expect(problems).toEqual([]);
    else {
      // No profile: no PILOT_ENABLE_AMBIENT on istiod, AMBIENT_ENABLED=false for the CNI agent.
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatch(/PILOT_ENABLE_AMBIENT=\(unset\)/);
      expect(problems[1]).toMatch(/AMBIENT_ENABLED=false/);
    }
  });

  it('ambientSwitch (the profile check) predicts what the charts render from the recorded values', () => {
    const istiod = releaseOf(inv, 'istiod').release;
    const cni = releaseOf(inv, 'cni').release;
    const discovery = containerOf(inv, 'Deployment', 'istiod', 'discovery');
    expect(ambientSwitch('istiod', istiod.values).on).toBe(
      envValue(discovery, 'PILOT_ENABLE_AMBIENT') === 'true',
    );
    expect(ambientSwitch('cni', cni.values).on).toBe(cniConfig(inv).AMBIENT_ENABLED === 'true');
    // The ambient-only RBAC for patching pods/status (the redirection annotation) comes with it.
    const ambientRole = findObject(inv, 'ClusterRole', 'istio-cni-ambient');
    expect(ambientRole !== undefined).toBe(ambientSwitch('cni', cni.values).on);
    if (ambientRole)
      expect(ambientRole.rules?.map(parseRule)).toContainEqual(
        expect.objectContaining({ resources: ['pods/status'] }),
      );
  });

  it('ztunnel: container istio-proxy, 15020 ztunnel-stats (metricsOf), readiness 15021 /healthz/ready, /var/run/ztunnel', () => {
    const { object, workload } = workloadOf(inv, 'DaemonSet', 'ztunnel');
    const proxy = containerOf(inv, 'DaemonSet', 'ztunnel', ISTIO_OBJECTS.ztunnel.container);
    expect(proxy.args).toEqual(['proxy', 'ztunnel']);
    expect(proxy.ports).toContainEqual(
      expect.objectContaining({ name: 'ztunnel-stats', containerPort: 15020 }),
    );
    expect(proxy.readinessProbe).toMatchObject({ handler: 'httpGet', port: 15021, path: '/healthz/ready' });
    expect(workload.template.annotations['prometheus.io/port']).toBe('15020');
    expect(workload.selector.matchLabels).toEqual({ app: 'ztunnel' });
    expect(workload.volumes).toContainEqual(
      expect.objectContaining({ type: 'hostPath', path: '/var/run/ztunnel' }),
    );
    expect(workload.hostNetwork).toBeUndefined();
    expect(envValue(proxy, 'INPOD_ENABLED')).toBe('true');
    // ztunnel reaches istiod's Service on 15012, and istiod trusts ztunnel's service account.
    const xds = `istiod.${ns}.svc:${ISTIOD_XDS_PORT}`;
    expect(envValue(proxy, 'CA_ADDRESS')).toBe(xds);
    expect(envValue(proxy, 'XDS_ADDRESS')).toBe(xds);
    const discovery = containerOf(inv, 'Deployment', 'istiod', 'discovery');
    expect(envValue(discovery, 'CA_TRUSTED_NODE_ACCOUNTS')).toBe(`${ns}/${workload.serviceAccountName}`);
    expect(findObject(inv, 'ServiceAccount', workload.serviceAccountName ?? '', ns)).toBeDefined();
    // The ztunnel chart renders no Service.
    expect(releaseOf(inv, 'ztunnel').release.objects.map((o) => o.kind)).not.toContain('Service');
    expect(object.namespace).toBe(ns);
  });

  it('istio-cni-node: label k8s-app, container install-cni, chained into /etc/cni/net.d, excluded namespaces as the profile computes them', () => {
    const { object, workload } = workloadOf(inv, 'DaemonSet', 'istio-cni-node');
    expect(object.labels['k8s-app']).toBe('istio-cni-node');
    expect(workload.selector.matchLabels).toEqual({ 'k8s-app': 'istio-cni-node' });
    const paths = workload.volumes.filter((v) => v.type === 'hostPath').map((v) => v.path);
    // kind's CNI folders (the chart defaults; cni-values.yaml sets no platform) and the agent's
    // socket folder; with ambient on, also ztunnel's socket folder, shared with the ztunnel DaemonSet.
    expect(paths).toEqual(expect.arrayContaining(['/opt/cni/bin', '/etc/cni/net.d', '/var/run/istio-cni']));
    const ambient = ambientSwitch('cni', releaseOf(inv, 'cni').release.values).on;
    expect(paths.includes('/var/run/ztunnel')).toBe(ambient);
    const install = containerOf(inv, 'DaemonSet', 'istio-cni-node', 'install-cni');
    expect(install.command).toEqual(['install-cni']);
    expect(install.envFrom).toContain('configMapRef:istio-cni-config');
    const cfg = cniConfig(inv);
    // harness/removal/node-state.ts looks for the chained plugin (the default), not Istio's own file.
    expect(cfg.CHAINED_CNI_PLUGIN).toBe('true');
    expect(cfg.ISTIO_OWNED_CNI_CONFIG).toBe('false');
    const values = releaseOf(inv, 'cni').release.values;
    expect(cfg.EXCLUDE_NAMESPACES?.split(',')).toEqual(cniExcludedNamespaces(values));
  });

  it('the twin’s dataplane uses the chart’s default enablement selectors', () => {
    const selectors = parseYaml(cniConfig(inv).AMBIENT_ENABLEMENT_SELECTOR ?? '');
    expect(selectors).toEqual(DEFAULT_ENABLEMENT_SELECTORS);
  });

  it('istiod: container discovery, xDS 15012 and webhook 15017 as the NetworkPolicy builders assume', () => {
    const discovery = containerOf(inv, 'Deployment', 'istiod', ISTIO_OBJECTS.istiod.container);
    const ports = Object.fromEntries(discovery.ports.map((p) => [p.name, p.containerPort]));
    expect(ports['tls-xds']).toBe(ISTIOD_XDS_PORT);
    expect(ports['https-webhooks']).toBe(ISTIOD_WEBHOOK_PORT);
    const svc = must(findObject(inv, 'Service', 'istiod', ns)?.service, 'Service istiod');
    expect(svc.selector).toEqual({ app: 'istiod', istio: 'pilot' });
    expect(svc.ports).toContainEqual(expect.objectContaining({ port: 443, targetPort: ISTIOD_WEBHOOK_PORT }));
    expect(svc.ports).toContainEqual(expect.objectContaining({ name: 'https-dns', port: ISTIOD_XDS_PORT }));
    // Service selector matches the pods.
    const { workload } = workloadOf(inv, 'Deployment', 'istiod');
    for (const [k, v] of Object.entries(svc.selector ?? {})) expect(workload.template.labels[k]).toBe(v);
  });

  it('webhooks: istio-sidecar-injector (4 x Fail, /inject) and the validators, all served by istiod', () => {
    const mwc = must(findObject(inv, 'MutatingWebhookConfiguration', 'istio-sidecar-injector'), 'injector');
    expect(mwc.namespace).toBeUndefined();
    expect(mwc.webhooks?.map((w) => w.name)).toEqual([
      'rev.namespace.sidecar-injector.istio.io',
      'rev.object.sidecar-injector.istio.io',
      'namespace.sidecar-injector.istio.io',
      'object.sidecar-injector.istio.io',
    ]);
    for (const w of mwc.webhooks ?? []) {
      expect(w.failurePolicy).toBe('Fail');
      expect(w.service).toMatchObject({ name: 'istiod', namespace: ns, path: '/inject' });
      expect(w.caBundle).toBe(false);
    }
    const base = must(
      findObject(inv, 'ValidatingWebhookConfiguration', 'istiod-default-validator'),
      'validator',
    );
    expect(base.release).toBe(releaseOf(inv, 'base').name);
    expect(base.webhooks?.[0]).toMatchObject({
      name: 'validation.istio.io',
      failurePolicy: 'Ignore', // istiod patches it to Fail once it serves
      service: { name: 'istiod', namespace: ns, path: '/validate' },
    });
    const rev = must(
      findObject(inv, 'ValidatingWebhookConfiguration', `istio-validator-${ns}`),
      'rev validator',
    );
    expect(rev.webhooks?.[0]?.name).toBe('rev.validation.istio.io');
  });

  it('removal: the base chart’s CRDs are kept by Helm and allowed as leftovers; nothing else is kept', () => {
    const profile = loadProfile(EMBEDDED_PROFILE, { istioVersion: version });
    const crds = releaseOf(inv, 'base').release.objects.filter((o) => o.kind === 'CustomResourceDefinition');
    for (const c of crds) {
      expect(c.annotations['helm.sh/resource-policy'], c.name).toBe('keep');
      expect(
        allowedBy({ kind: c.kind, name: c.name }, profile.doc.removal.allowedLeftovers),
        c.name,
      ).toBeDefined();
      expect(c.crd?.versions.some((v) => v.served && v.storage)).toBe(true);
    }
    const names = crds.map((c) => c.name);
    // harness/removal/leftovers.ts ISTIO_CRDS is the 1.28 list; later minors only add to it.
    if (version.startsWith('1.28.')) expect(names).toEqual(ISTIO_CRDS);
    else expect(names).toEqual(expect.arrayContaining(ISTIO_CRDS));
    const kept = allObjects(inv).filter((o) => o.annotations['helm.sh/resource-policy'] === 'keep');
    expect(kept.map((o) => o.name)).toEqual(names);
    // No Gateway API CRDs in the base chart.
    expect(names.filter((n) => n.endsWith('gateway.networking.k8s.io'))).toEqual([]);
  });

  it('INSTALL-01 (judgeReleases): chart names and versions as Helm would record them', () => {
    const profile = loadProfile(EMBEDDED_PROFILE, { istioVersion: version });
    const records = Object.entries(inv.releases).map(([name, r], i) => ({
      name,
      namespace: ns,
      revision: 1,
      status: 'deployed',
      chart: r.chartName,
      chartVersion: r.chartVersion,
      firstDeployed: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      lastDeployed: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    }));
    expect(judgeReleases(profile.releases, records, version)).toEqual([]);
  });

  it('everything namespaced lands in the release namespace; only cluster-scoped kinds have none', () => {
    for (const o of allObjects(inv)) {
      if (CLUSTER_SCOPED.has(o.kind)) expect(o.namespace, `${o.kind} ${o.name}`).toBeUndefined();
      else expect(o.namespace, `${o.kind} ${o.name}`).toBe(ns);
    }
  });

  it('images: the published tag, and a hub that is not retired when the plan installs', () => {
    const images = allObjects(inv).flatMap((o) => o.workload?.containers.map((c) => c.image) ?? []);
    expect(images).toHaveLength(3);
    for (const image of images)
      expect(image).toMatch(new RegExp(`:${version.replace(/\./g, '\\.')}(-distroless)?$`));
    if (homelab) {
      for (const image of images) expect(retiredHostOf(image), image).toBeUndefined();
      expect(releaseOf(inv, 'istiod').release.set.includes(`global.hub=${SAFE_HUB}`)).toBe(
        planSetsHub(version),
      );
    } else {
      // The 1.30 charts default to registry.istio.io/release (hosts.ts hubReason); others to docker.io/istio.
      const retired = images.filter((i) => retiredHostOf(i) !== undefined);
      expect(retired.length).toBe(version.startsWith('1.30.') ? 3 : 0);
    }
  });

  it('images and requests follow the value set: profile=ambient means distroless; requests come from the values', () => {
    const image = (kind: string, name: string) =>
      workloadOf(inv, kind, name).workload.containers[0]?.image ?? '';
    const requests = (kind: string, name: string) =>
      workloadOf(inv, kind, name).workload.containers[0]?.resources?.requests;
    const releases = Object.values(inv.releases);
    const valuesOf = (chart: string) => releases.find((r) => r.chart === chart)?.values ?? {};
    for (const [chart, kind, name] of [
      ['istiod', 'Deployment', 'istiod'],
      ['cni', 'DaemonSet', 'istio-cni-node'],
      ['ztunnel', 'DaemonSet', 'ztunnel'],
    ] as const) {
      const v = valuesOf(chart);
      expect(image(kind, name).endsWith('-distroless'), `${name} image`).toBe(v.profile === 'ambient');
      if (homelab) expect(requests(kind, name)).toEqual((v.resources as { requests: unknown }).requests);
    }
    if (!homelab) {
      // The chart defaults the homelab values files' comments quote.
      expect(requests('Deployment', 'istiod')).toEqual({ cpu: '500m', memory: '2048Mi' });
      expect(requests('DaemonSet', 'istio-cni-node')).toEqual({ cpu: '100m', memory: '100Mi' });
      expect(requests('DaemonSet', 'ztunnel')).toEqual({ cpu: '200m', memory: '512Mi' });
    }
    // istiod-values.yaml turns autoscaling off and runs one replica; the defaults autoscale 1-5.
    const hpa = findObject(inv, 'HorizontalPodAutoscaler', 'istiod', ns);
    if (homelab) {
      expect(hpa).toBeUndefined();
      expect(workloadOf(inv, 'Deployment', 'istiod').workload.replicas).toBe(1);
    } else expect(hpa?.fields?.spec).toMatchObject({ minReplicas: 1, maxReplicas: 5 });
    expect(findObject(inv, 'PodDisruptionBudget', 'istiod', ns)).toBeUndefined();
  });
});

describe('metrics-server chart inventory (the plan step addons.metrics-server)', () => {
  const PLANNED = plannedHelmInstall('addons.metrics-server');
  const PINS = JSON.parse(readFileSync(path.join(ROOT, 'pins.json'), 'utf8')) as {
    metricsServer: { chartRepository: string; chart: string; chartVersion: string; image: string };
  };
  const MS = PINS.metricsServer;
  const RE_RECORD_MS = `${RE_RECORD} (node --import tsx scripts/twin-inventory.ts --only metrics-server)`;
  const inv = () => addonInventoryFor('metrics-server', MS.chartVersion);
  const object = (kind: string, name: string, namespace?: string) => {
    const hits = inv().release.objects.filter(
      (o) => o.kind === kind && o.name === name && (namespace === undefined || o.namespace === namespace),
    );
    expect(hits, `${kind} ${name}`).toHaveLength(1);
    return hits[0] as ObjectSummary;
  };

  it('records the pinned chart version, with the plan step’s own command', () => {
    expect(recordedAddonInventories().map((r) => [r.chart, r.version])).toContainEqual([
      'metrics-server',
      MS.chartVersion,
    ]);
    const raw: unknown = JSON.parse(
      readFileSync(
        must(
          recordedAddonInventories().find(
            (r) => r.chart === 'metrics-server' && r.version === MS.chartVersion,
          ),
          'metrics-server file',
        ).file,
        'utf8',
      ),
    );
    const { source, release } = AddonInventory.parse(raw);
    expect(source).toMatchObject({
      repository: ADDON_CHARTS['metrics-server'].repository,
      tag: `metrics-server-helm-chart-${MS.chartVersion}`,
      chart: 'charts/metrics-server',
      chartRepository: MS.chartRepository,
      planStep: 'addons.metrics-server',
      generatedBy: 'scripts/twin-inventory.ts',
    });
    expect(source.helm).toMatch(new RegExp(`^${REAL_HELM.find((h) => h.major === 4)?.version ?? '?'}\\+`));
    // The plan's command, as harness/plan.ts builds it now: a change there makes the file stale.
    expect(PLANNED).toMatchObject({ chart: MS.chart, repo: MS.chartRepository, version: MS.chartVersion });
    expect(
      { name: release.name, namespace: release.namespace, chart: release.chartName, set: release.set },
      RE_RECORD_MS,
    ).toEqual({
      name: PLANNED.release,
      namespace: PLANNED.namespace,
      chart: PLANNED.chart,
      set: PLANNED.set,
    });
    expect(release.chartVersion).toBe(MS.chartVersion);
    expect(release.values).toMatchObject({ args: ['--kubelet-insecure-tls'] });
  });

  it('has Deployment kube-system/metrics-server running the pinned image with --kubelet-insecure-tls', () => {
    const d = object('Deployment', 'metrics-server', 'kube-system');
    const r = inv().release;
    expect(r.image).toMatchObject({
      kind: 'Deployment',
      name: 'metrics-server',
      container: 'metrics-server',
    });
    const c = must(
      d.workload?.containers.find((x) => x.name === r.image.container),
      'container metrics-server',
    );
    expect(c.image).toBe(MS.image);
    // kind's kubelets serve self-signed certificates: without this flag metrics-server scrapes nothing.
    expect(c.args).toContain('--kubelet-insecure-tls');
    // The sampling pace of the budgets suite (timeouts.ts metricResolution) is this flag's.
    expect(c.args).toContain(`--metric-resolution=${DEFAULT_TIMEOUTS.metricResolution / 1000}s`);
    expect(d.workload?.replicas).toBe(1);
    // The twin's metrics-server simulation runs while this Deployment is Available.
    expect(d.labels['app.kubernetes.io/managed-by']).toBe('Helm');
  });

  it('has APIService v1beta1.metrics.k8s.io behind a Service that selects the Deployment’s pods on a named port', () => {
    const a = object('APIService', 'v1beta1.metrics.k8s.io');
    expect(a.apiVersion).toBe('apiregistration.k8s.io/v1');
    expect(a.namespace).toBeUndefined();
    const spec = a.fields?.spec as {
      group: string;
      version: string;
      service: { name: string; namespace: string; port: number };
    };
    expect(spec).toMatchObject({ group: 'metrics.k8s.io', version: 'v1beta1' });
    const svc = object('Service', spec.service.name, spec.service.namespace);
    const port = must(
      svc.service?.ports.find((p) => p.port === spec.service.port),
      `Service port ${spec.service.port}`,
    );
    expect(svc.service?.type ?? 'ClusterIP').toBe('ClusterIP');
    const d = object('Deployment', 'metrics-server', 'kube-system');
    // kube-aggregator needs ready endpoints with the port's name: the selector picks the pods, the
    // named targetPort resolves in their container.
    expect(Object.entries(svc.service?.selector ?? {})).not.toHaveLength(0);
    for (const [k, v] of Object.entries(svc.service?.selector ?? {}))
      expect(d.workload?.template.labels[k]).toBe(v);
    expect(d.workload?.containers.flatMap((c) => c.ports.map((p) => p.name))).toContain(port.targetPort);
    expect(port.name).toBe('https');
  });

  it('the loader names the recorded versions when one is missing', () => {
    expect(() => addonInventoryFor('metrics-server', '0.0.1')).toThrow(
      `no chart inventory for metrics-server 0.0.1 (recorded: ${MS.chartVersion})`,
    );
  });
});
