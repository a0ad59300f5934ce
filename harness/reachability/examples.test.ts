import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { readManifests } from './manifests.ts';
import { ReachabilityModel, type ModelOptions } from './model.ts';
import { SYMBOL } from './render.ts';

/**
 * The examples in examples/ predict what their header comments say. The expected cells below are
 * copied from each file's header ("Expected ..."), not from the model's output: a difference is
 * either a wrong header or a change in the model, and both need a look. For the two older
 * examples, whose headers state only part of the matrix, only that part is checked.
 */

const EXAMPLES = path.join(import.meta.dirname, '../../examples');
const file = (rel: string) => path.join(EXAMPLES, rel);

/** Every cell of a file's matrix as `from -> to:port` → symbol (. connects, T dropped, R reset). */
function matrixOf(files: string[], opts: ModelOptions = {}): Record<string, string> {
  const m = new ReachabilityModel(readManifests(files).state, opts);
  return Object.fromEntries(m.matrix().map((c) => [`${c.from} -> ${c.to}:${c.port}`, SYMBOL[c.outcome]]));
}

function cellOf(files: string[], from: string, to: string, port: number, opts: ModelOptions = {}) {
  const m = new ReachabilityModel(readManifests(files).state, opts);
  const c = m.matrix().find((x) => x.from === from && x.to === to && x.port === port);
  if (!c) throw new Error(`no cell ${from} -> ${to}:${port}`);
  return c;
}

describe('examples/mesh/port-level-exception.yaml', () => {
  const f = file('mesh/port-level-exception.yaml');
  const op = 'cnpg-system/cnpg-controller-manager-6b9f8d7c5d-x2k4p';
  const apiserver = '[host] kube-system/kube-apiserver-lab-cp-1';
  // The header: 8080 stays STRICT (plaintext reset), the webhook port 9443 takes plaintext.
  const expected = {
    [`telemetry/alloy-0 -> ${op}:8080`]: '.',
    [`vm/vmagent-0 -> ${op}:8080`]: 'R',
    [`${apiserver} -> ${op}:8080`]: 'R',
    [`telemetry/alloy-0 -> ${op}:9443`]: '.',
    [`vm/vmagent-0 -> ${op}:9443`]: '.',
    [`${apiserver} -> ${op}:9443`]: '.',
  };

  it('is the matrix its header states', () => {
    expect(matrixOf([f])).toEqual(expected);
  });
  it('the reset on 8080 names the merged policy, the open 9443 its PERMISSIVE port', () => {
    expect(cellOf([f], apiserver, op, 8080).reason).toContain(
      'PeerAuthentication makes port 8080 STRICT (namespace cnpg-system/cnpg-strict STRICT > workload cnpg-system/cnpg-webhook-port UNSET)',
    );
    expect(cellOf([f], apiserver, op, 9443).reason).toContain('port 9443 PERMISSIVE');
  });
  it('as the header says, a mesh-wide STRICT (istio-system/default) instead of the namespace one gives the same matrix', () => {
    const docs = parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
    const list = docs[0] as { items: Record<string, { name: string; namespace?: string }>[] };
    const items = list.items.map((o) =>
      o.metadata?.name === 'cnpg-strict'
        ? { ...o, metadata: { name: 'default', namespace: 'istio-system' } }
        : o,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ex-'));
    const meshWide = path.join(dir, 'mesh-wide.yaml');
    writeFileSync(meshWide, stringify({ ...list, items }));
    expect(matrixOf([meshWide])).toEqual(expected);
    expect(cellOf([meshWide], apiserver, op, 8080).reason).toContain('mesh istio-system/default STRICT');
  });
});

describe('examples/mesh/sidecar-server.yaml', () => {
  const f = file('mesh/sidecar-server.yaml');
  it('is the matrix its header states: the policy admitting 8080 only drops the ambient client, the one admitting 15008 lets it in', () => {
    expect(matrixOf([f])).toEqual({
      'dashboard/homepage-0 -> wiki/bookstack-0:8080': 'T',
      'recipes/mealie-0 -> wiki/bookstack-0:8080': 'T',
      'dashboard/homepage-0 -> recipes/mealie-0:9000': '.',
      'wiki/bookstack-0 -> recipes/mealie-0:9000': 'T',
    });
  });
  it('as the header says, NetworkPolicy judges the ambient client on 15008 and the sidecar clients on the app port', () => {
    expect(cellOf([f], 'dashboard/homepage-0', 'wiki/bookstack-0', 8080)).toMatchObject({
      judgedPort: 15008,
      hbone: true,
    });
    expect(cellOf([f], 'dashboard/homepage-0', 'recipes/mealie-0', 9000)).toMatchObject({
      judgedPort: 15008,
      hbone: true,
    });
    expect(cellOf([f], 'wiki/bookstack-0', 'recipes/mealie-0', 9000)).toMatchObject({
      judgedPort: 9000,
      hbone: false,
    });
  });
});

describe('examples/netpol/probe-allowance.yaml', () => {
  const f = file('netpol/probe-allowance.yaml');
  const judged = {
    'traefik/traefik-0 -> paperless/paperless-0:8000': '.',
    'immich/immich-server-0 -> paperless/paperless-0:8000': 'T',
    '[kubelet] -> paperless/paperless-0:8000': 'T',
    'traefik/traefik-0 -> immich/immich-server-0:2283': '.',
    'paperless/paperless-0 -> immich/immich-server-0:2283': 'T',
    '[kubelet] -> immich/immich-server-0:2283': '.',
  };
  it('is the matrix its header states with --host-traffic judged (the default): the probe is dropped without the allowance', () => {
    expect(matrixOf([f])).toEqual(judged);
    expect(matrixOf([f], { hostTraffic: 'judged' })).toEqual(judged);
    const dropped = cellOf([f], '[kubelet]', 'paperless/paperless-0', 8000);
    expect(dropped.reason).toContain('readiness httpGet probe of container paperless');
    expect(dropped.reason).toContain('add an ingress rule with ipBlock 169.254.7.127/32');
    expect(cellOf([f], '[kubelet]', 'immich/immich-server-0', 2283).reason).toContain(
      'ingress allowed by immich/immich-allow-probes (ingress rule 0)',
    );
  });
  it('with --host-traffic exempt both probes connect and the rest is the same, as the header says', () => {
    expect(matrixOf([f], { hostTraffic: 'exempt' })).toEqual({
      ...judged,
      '[kubelet] -> paperless/paperless-0:8000': '.',
    });
  });
});

describe('the older examples, where their headers state the outcome', () => {
  it('examples/netpol/port-15008-trap.yaml: Prometheus is dropped on the way to loki (judged on 15008)', () => {
    const c = cellOf(
      [file('netpol/port-15008-trap.yaml')],
      'monitoring/prometheus-0',
      'logging/loki-0',
      3100,
    );
    expect(c).toMatchObject({ outcome: 'drop', judgedPort: 15008 });
  });
  it('examples/mesh/strict-and-authz.yaml: only Prometheus reaches loki-0; plaintext is reset', () => {
    const m = matrixOf([file('mesh/strict-and-authz.yaml')]);
    expect(Object.fromEntries(Object.entries(m).filter(([k]) => k.endsWith(' -> logs/loki-0:3100')))).toEqual(
      {
        'observability/prometheus-0 -> logs/loki-0:3100': '.',
        'observability/grafana-0 -> logs/loki-0:3100': 'R',
        'sandbox/debug -> logs/loki-0:3100': 'R',
      },
    );
  });
});

describe('all of examples/ read at once', () => {
  it('each example keeps its own cells: none changes what another predicts', () => {
    const all = matrixOf([EXAMPLES]);
    for (const rel of [
      'mesh/port-level-exception.yaml',
      'mesh/sidecar-server.yaml',
      'mesh/strict-and-authz.yaml',
      'netpol/homelab.yaml',
      'netpol/port-15008-trap.yaml',
      'netpol/probe-allowance.yaml',
    ]) {
      const alone = matrixOf([file(rel)]);
      expect(Object.fromEntries(Object.keys(alone).map((k) => [k, all[k]])), rel).toEqual(alone);
    }
  });
});
