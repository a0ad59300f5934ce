import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { conformanceReport, consoleSummary, summaryMarkdown } from './render.ts';
import {
  mergeWithCatalog,
  splitTestName,
  verdict,
  type ReportInput,
  type TestResultRecord,
  VITEST_ABORT_NOTE,
  withoutCancelled,
} from './results.ts';
import { junitFromResults, writeReports } from './write.ts';

const catalog = [
  { id: 'INSTALL-01', suite: 'install', claim: 'releases deployed in order' },
  { id: 'INSTALL-02', suite: 'install', claim: 'istiod Ready' },
  { id: 'INSTALL-03', suite: 'install', claim: 'ambient on' },
  { id: 'INSTALL-04', suite: 'install', claim: 'pods captured' },
];
const results: TestResultRecord[] = [
  {
    id: 'INSTALL-01',
    suite: 'install',
    claim: 'releases deployed in order',
    status: 'PASS',
    durationMs: 1200,
  },
  {
    id: 'INSTALL-02',
    suite: 'install',
    claim: 'istiod Ready',
    status: 'FAIL',
    durationMs: 180_000,
    reason: 'timed out after 3m0s waiting for ztunnel',
    errors: ['timed out after 3m0s waiting for ztunnel\n  seen: ztunnel missing on ambient-worker2 | x <y>'],
  },
  {
    id: 'INSTALL-03',
    suite: 'install',
    claim: 'ambient on',
    status: 'SKIP',
    durationMs: 0,
    reason: 'Skipping INSTALL-03: not selected',
  },
];

function input(r = results): ReportInput {
  return {
    toolVersion: '0.1.0',
    runId: 'r1',
    startedAt: '2026-11-28T05:00:00.000Z',
    finishedAt: '2026-11-28T05:10:00.000Z',
    facts: {
      runId: 'r1',
      mode: 'kind',
      clusterName: 'ambient-conformance-r1',
      kubernetesVersion: 'v1.34.0',
      kindVersion: 'v0.30.0',
      nodeImage: 'kindest/node:v1.34.0@sha256:abc',
      helmVersion: 'v4.2.1',
      nodes: ['cp', 'w1', 'w2'],
      installOrder: ['istio-base', 'istiod', 'istio-cni', 'ztunnel'],
    },
    profile: {
      name: 'homelab',
      source: 'embedded',
      istioVersion: '1.28.3',
      chartRepository: 'https://blob.istio.io/istio-release/charts',
      releases: [{ name: 'istio-base', chart: 'base', syncWave: -45 }],
    },
    phases: [{ name: 'cluster', startedAt: '2026-11-28T05:00:01Z', durationMs: 61_000, status: 'passed' }],
    results: mergeWithCatalog(catalog, r, 'not run: run interrupted'),
    notes: ['the runbook lists ztunnel at ~1-2Mi per node'],
  };
}

describe('results', () => {
  it('splits test names into ID and claim', () => {
    expect(splitTestName('NETPOL-02 without 15008 the mesh breaks')).toEqual({
      id: 'NETPOL-02',
      claim: 'without 15008 the mesh breaks',
    });
  });
  it('every catalogued test appears once; missing ones are NOT RUN with the reason', () => {
    const merged = mergeWithCatalog(catalog, results, 'not run: preflight failed: Docker daemon');
    expect(merged.map((r) => [r.id, r.status])).toEqual([
      ['INSTALL-01', 'PASS'],
      ['INSTALL-02', 'FAIL'],
      ['INSTALL-03', 'SKIP'],
      ['INSTALL-04', 'NOT RUN'],
    ]);
    expect(merged[3]?.reason).toBe('not run: preflight failed: Docker daemon');
  });
  it('verdict: failure on any FAIL or failed phase, partial on skips, success only when all pass', () => {
    expect(verdict(input().results, [])).toBe('failure');
    expect(verdict([results[0]!, results[2]!], [])).toBe('partial');
    expect(verdict([results[0]!], [])).toBe('success');
    expect(
      verdict([results[0]!], [{ name: 'cleanup', startedAt: '', durationMs: 1, status: 'failed' }]),
    ).toBe('failure');
  });
});

describe('a cancelled Vitest run', () => {
  it('reports tests Vitest skipped only because the run was cancelled as never run, and deselected ones as deselected', () => {
    const rec = (id: string, status: 'PASS' | 'SKIP', reason?: string) => ({
      id,
      suite: 'install',
      claim: 'c',
      status,
      durationMs: 0,
      ...(reason ? { reason } : {}),
    });
    const out = withoutCancelled(
      [
        rec('INSTALL-01', 'PASS'),
        rec('INSTALL-02', 'SKIP', VITEST_ABORT_NOTE),
        rec('INSTALL-03', 'SKIP', VITEST_ABORT_NOTE),
        rec('INSTALL-04', 'SKIP', 'Skipping INSTALL-04: no cluster'),
      ],
      (id) => (id === 'INSTALL-03' ? 'not selected (--only INSTALL-01,INSTALL-02,INSTALL-04)' : undefined),
    );
    expect(out.map((r) => [r.id, r.status, r.reason])).toEqual([
      ['INSTALL-01', 'PASS', undefined],
      ['INSTALL-03', 'SKIP', 'not selected (--only INSTALL-01,INSTALL-02,INSTALL-04)'],
      ['INSTALL-04', 'SKIP', 'Skipping INSTALL-04: no cluster'],
    ]);
    const merged = mergeWithCatalog(
      ['INSTALL-01', 'INSTALL-02', 'INSTALL-03', 'INSTALL-04'].map((id) => ({
        id,
        suite: 'install',
        claim: 'c',
      })),
      out,
      'not run: interrupted by SIGINT during tests',
    );
    expect(merged.find((r) => r.id === 'INSTALL-02')).toMatchObject({
      status: 'NOT RUN',
      reason: 'not run: interrupted by SIGINT during tests',
    });
  });
});

describe('reports', () => {
  it('conformance-report.json carries versions, profile, phases and results by ID', () => {
    const r = conformanceReport(input());
    expect(r.kind).toBe('ConformanceReport');
    expect(r.implementation).toMatchObject({
      project: 'istio',
      mode: 'ambient',
      version: '1.28.3',
      installOrder: ['istio-base', 'istiod', 'istio-cni', 'ztunnel'],
    });
    expect(r.environment).toMatchObject({
      kubernetesVersion: 'v1.34.0',
      kindVersion: 'v0.30.0',
      nodeImage: 'kindest/node:v1.34.0@sha256:abc',
      helmVersion: 'v4.2.1',
    });
    expect(r.summary).toEqual({ result: 'failure', passed: 1, failed: 1, skipped: 1, notRun: 1 });
    expect(r.results['INSTALL-02']).toMatchObject({ status: 'FAIL', durationMs: 180000 });
    expect(r.results['INSTALL-04']).toMatchObject({ status: 'NOT RUN', reason: 'not run: run interrupted' });
  });

  it('summary.md shows each claim with its result and reason, the failures and the phase times', () => {
    const md = summaryMarkdown(input());
    expect(md).toContain('# Istio ambient conformance: FAILURE');
    expect(md).toContain('| INSTALL-03 | ambient on | SKIP |  | Skipping INSTALL-03: not selected |');
    expect(md).toContain(
      '| INSTALL-02 | istiod Ready | FAIL | 3m00s | timed out after 3m0s waiting for ztunnel |',
    );
    expect(md).toContain('### INSTALL-02 istiod Ready');
    expect(md).toContain('Diagnostics: `artifacts/INSTALL-02/`');
    expect(md).toContain('| cluster | passed | 1m01s |  |');
    expect(md).toContain('- the runbook lists ztunnel at ~1-2Mi per node');
  });

  it('JUnit XML is valid and escaped, even when Vitest never ran', () => {
    const xml = junitFromResults(input().results);
    expect(xml).toContain('tests="4" failures="1" skipped="2"');
    expect(xml).toContain('&lt;y&gt;');
    expect(xml).toContain('<skipped message="NOT RUN: not run: run interrupted"/>');
  });

  it('writes the three files and redacts secrets', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rep-'));
    const i = input();
    i.notes.push('token: abc.def.ghi');
    const files = writeReports(dir, i);
    expect(readFileSync(files.summary, 'utf8')).toContain('token: [REDACTED]');
    expect(JSON.parse(readFileSync(files.report, 'utf8')).runId).toBe('r1');
    expect(readFileSync(files.junit, 'utf8')).toContain('<testsuites');
  });

  it('console summary lists each claim', () => {
    expect(consoleSummary(input().results)).toContain('INSTALL-04');
  });
});

describe('runbook vs upstream', () => {
  it('summary.md and the JSON list each documented disagreement with the tests that check it', () => {
    const md = summaryMarkdown(input());
    expect(md).toContain('## Runbook vs upstream');
    expect(md).toMatch(/Kubelet probes under default-deny.*NETPOL-07: n\/a/);
    const json = conformanceReport(input());
    expect(json.documentationFindings.find((f) => f.topic === 'Removal order')?.checkedBy).toEqual([
      'REMOVAL-02',
      'REMOVAL-03',
    ]);
  });
});
