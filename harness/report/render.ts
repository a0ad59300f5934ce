import Table from 'cli-table3';
import { humanDuration } from '../timeouts.ts';
import { FINDINGS } from './findings.ts';
import { counts, verdict, type ReportInput, type TestResultRecord } from './results.ts';

/** conformance-report.json: a typed report modelled on Gateway API's ConformanceReport. */
export function conformanceReport(r: ReportInput) {
  const c = counts(r.results);
  return {
    apiVersion: 'ambient-conformance/v1',
    kind: 'ConformanceReport',
    runId: r.runId,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    tool: { name: 'ambient-conformance', version: r.toolVersion },
    implementation: {
      project: 'istio',
      mode: 'ambient',
      version: r.profile.istioVersion,
      chartRepository: r.profile.chartRepository,
      releases: r.profile.releases,
      installOrder: r.facts.installOrder ?? [],
    },
    environment: {
      clusterMode: r.facts.mode,
      clusterName: r.facts.clusterName,
      kubernetesVersion: r.facts.kubernetesVersion,
      kindVersion: r.facts.kindVersion,
      nodeImage: r.facts.nodeImage,
      helmVersion: r.facts.helmVersion,
      nodes: r.facts.nodes,
    },
    profile: { name: r.profile.name, source: r.profile.source },
    features: r.facts.features,
    phases: r.phases,
    summary: {
      result: verdict(r.results, r.phases),
      passed: c.PASS,
      failed: c.FAIL,
      skipped: c.SKIP,
      notRun: c['NOT RUN'],
    },
    results: Object.fromEntries(
      r.results.map((t) => [
        t.id,
        {
          suite: t.suite,
          claim: t.claim,
          status: t.status,
          durationMs: Math.round(t.durationMs),
          ...(t.reason ? { reason: t.reason } : {}),
          ...(t.errors?.length ? { errors: t.errors } : {}),
        },
      ]),
    ),
    notes: r.notes,
    retiredHosts: r.retiredHosts ?? [],
    documentationFindings: FINDINGS.map((f) => ({
      ...f,
      results: Object.fromEntries<string>([
        ...f.checkedBy.map((id): [string, string] => [
          id,
          r.results.find((t) => t.id === id)?.status ?? 'NOT IN CATALOG',
        ]),
        ...(f.checkedByProfileScan ? [['profile-scan', profileScanStatus(r)] as [string, string]] : []),
      ]),
    })),
  };
}

/** PASS when the profile names no retired host, WARN when it does (the run goes on). */
function profileScanStatus(r: ReportInput): 'PASS' | 'WARN' {
  return (r.retiredHosts ?? []).length ? 'WARN' : 'PASS';
}

function checkedByCell(f: (typeof FINDINGS)[number], r: ReportInput): string {
  const cells = f.checkedBy.map((id) => `${id}: ${r.results.find((t) => t.id === id)?.status ?? 'n/a'}`);
  if (f.checkedByProfileScan) {
    const refs = r.retiredHosts ?? [];
    cells.push(
      refs.length
        ? `profile scan: WARN (${refs.map((h) => h.field).join(', ')})`
        : 'profile scan: PASS (no retired host)',
    );
  }
  return cells.join(', ');
}

function md(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function summaryMarkdown(r: ReportInput): string {
  const c = counts(r.results);
  const v = verdict(r.results, r.phases);
  const f = r.facts;
  const lines: string[] = [];
  lines.push(`# Istio ambient conformance: ${v.toUpperCase()}`, '');
  lines.push(
    `Run \`${r.runId}\`, ${r.startedAt} to ${r.finishedAt}. ${c.PASS} passed, ${c.FAIL} failed, ${c.SKIP} skipped, ${c['NOT RUN']} not run.`,
    '',
  );
  lines.push('| | |', '|---|---|');
  lines.push(`| Istio | ${r.profile.istioVersion} from ${r.profile.chartRepository} |`);
  lines.push(
    `| Releases (wave order) | ${r.profile.releases.map((x) => `${x.name} (${x.chart}, ${x.syncWave})`).join(', ')} |`,
  );
  lines.push(`| Kubernetes | ${f.kubernetesVersion ?? 'unknown'} |`);
  if (f.nodeImage) lines.push(`| kind | ${f.kindVersion ?? '?'}, node image \`${f.nodeImage}\` |`);
  lines.push(`| Helm | ${f.helmVersion ?? '?'} |`);
  lines.push(
    `| Cluster | ${f.mode ?? '?'} ${f.clusterName ?? ''}, nodes: ${(f.nodes ?? []).join(', ') || '?'} |`,
  );
  lines.push(`| Profile | ${r.profile.name} (${r.profile.source}) |`, '');

  lines.push('## Claims', '', '| ID | Claim | Result | Time | Reason |', '|---|---|---|---|---|');
  for (const t of r.results)
    lines.push(
      `| ${t.id} | ${md(t.claim)} | ${t.status} | ${t.durationMs ? humanDuration(t.durationMs) : ''} | ${md(t.reason ?? '')} |`,
    );
  lines.push('');

  const failures = r.results.filter((t) => t.status === 'FAIL');
  if (failures.length) {
    lines.push('## Failures', '');
    for (const t of failures) {
      lines.push(
        `### ${t.id} ${t.claim}`,
        '',
        '```',
        ...(t.errors ?? [t.reason ?? '']).map((e) => e.trimEnd()),
        '```',
      );
      lines.push(`Diagnostics: \`artifacts/${t.id}/\``, '');
    }
  }

  lines.push('## Phases', '', '| Phase | Status | Time | Detail |', '|---|---|---|---|');
  for (const p of r.phases)
    lines.push(`| ${p.name} | ${p.status} | ${humanDuration(p.durationMs)} | ${md(p.detail ?? '')} |`);
  lines.push('');
  lines.push(
    '## Runbook vs upstream',
    '',
    '| Topic | Runbook says | Upstream says | Checked by |',
    '|---|---|---|---|',
  );
  for (const f of FINDINGS)
    lines.push(
      `| ${md(f.topic)} | ${md(f.runbook)} | ${md(f.upstream)} (${md(f.source)}) | ${md(checkedByCell(f, r))} |`,
    );
  lines.push('');
  const refs = r.retiredHosts ?? [];
  if (refs.length) {
    lines.push('Fields of this profile that name a retired host:', '');
    lines.push('| File | Field | Value | Retired host | Use instead |', '|---|---|---|---|---|');
    for (const h of refs)
      lines.push(
        `| ${md(h.file)} | ${md(h.field)} | ${md(h.value)} | ${md(h.retired)} | ${md(h.replacement)} |`,
      );
    lines.push('');
  }
  if (r.notes.length) {
    lines.push('## Notes', '');
    for (const n of r.notes) lines.push(`- ${md(n)}`);
    lines.push('');
  }
  return lines.join('\n');
}

export function consoleSummary(results: TestResultRecord[]): string {
  const table = new Table({
    head: ['ID', 'result', 'time', 'claim / reason'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [12, 9, 9, 90],
  });
  for (const t of results)
    table.push([
      t.id,
      t.status,
      t.durationMs ? humanDuration(t.durationMs) : '',
      t.status === 'PASS' ? t.claim : `${t.claim}\n→ ${t.reason ?? ''}`,
    ]);
  return table.toString();
}
