import type { CheckResult, Status, UpgradePlanReport } from './plan.ts';

/**
 * The upgrade plan as Markdown (what a person reads, and what docs/upgrade-plan.md shows) and as
 * JSON (`--json`: the UpgradePlanReport itself, schema `ambient-conformance/upgrade-plan/v1`,
 * documented in docs/upgrade-plan.md).
 */

const LABEL: Record<Status, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', 'not-run': 'NOT RUN' };

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function checkSection(c: CheckResult, n: number): string[] {
  const lines = [`### ${n}. ${c.title}: ${LABEL[c.status]}`, '', c.summary, ''];
  for (const e of c.evidence) {
    const mark = e.status !== undefined && e.status !== 'pass' ? `**${LABEL[e.status]}** ` : '';
    lines.push(`- ${mark}${e.text}${e.source ? ` _(source: ${e.source})_` : ''}`);
  }
  lines.push('');
  return lines;
}

export function renderMarkdown(r: UpgradePlanReport): string {
  const counts = (s: Status) => r.checks.filter((c) => c.status === s).length;
  const tally = (['fail', 'warn', 'not-run', 'pass'] as const)
    .filter((s) => counts(s) > 0)
    .map(
      (s) =>
        `${counts(s)} ${s === 'not-run' ? 'could not run' : s === 'pass' ? 'pass' : s === 'warn' ? 'warn' : 'fail'}`,
    )
    .join(', ');
  const lines = [
    `# Upgrade plan: Istio ${r.from} → ${r.to}`,
    '',
    `Run date ${r.runDate} · release table as of ${r.releaseTable.asOf} (${r.releaseTable.ageDays} days old) · profile ${r.profile}${r.gitops ? ` · GitOps ${r.gitops}` : ''}`,
    '',
    `**Verdict: ${r.verdict === 'sound' ? 'the path is sound' : 'a check fails'}** (${tally}); exit code ${r.exitCode}.`,
    '',
    '## Path',
    '',
    `${r.path.join(' → ')}${r.pathChosen === 'legal' ? ' (one minor per hop, each stop at the newest known patch of its minor)' : r.path.join() === r.legalPath.join() ? '' : ` (legal path: ${r.legalPath.join(' → ')})`}`,
    '',
    `| Hop | Step | Chart | From | To |${r.gitops ? ' Application |' : ''}`,
    `|---|---|---|---|---|${r.gitops ? '---|' : ''}`,
  ];
  r.steps.forEach((s, i) => {
    lines.push(
      `| ${s.hop} | ${i + 1} | ${s.chart} | ${s.from} | ${s.to} |${r.gitops ? ` ${s.application ?? '(none)'} |` : ''}`,
    );
  });
  lines.push('', '## Checks', '', '| # | Check | Result | Summary |', '|---|---|---|---|');
  r.checks.forEach((c, i) =>
    lines.push(`| ${i + 1} | ${c.title} | ${LABEL[c.status]} | ${cell(c.summary)} |`),
  );
  lines.push('');
  r.checks.forEach((c, i) => lines.push(...checkSection(c, i + 1)));
  return `${lines.join('\n').trimEnd()}\n`;
}

export function renderJson(r: UpgradePlanReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
