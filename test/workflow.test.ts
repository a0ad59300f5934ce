import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The CI workflows: every action pinned by commit (house rule), and the conformance step as the
 * process GitHub signals on cancel. The runner signals only the step's own process (SIGINT, then
 * SIGTERM 7.5 s later, then a kill 2.5 s after that: actions/runner
 * src/Runner.Sdk/ProcessInvoker.cs), so the step must exec npm, whose script execs node.
 */
const DIR = path.join(import.meta.dirname, '..', '.github', 'workflows');
type Step = { uses?: string; run?: string; name?: string };
const workflows = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({
    file: f,
    steps: Object.values(
      (parse(readFileSync(path.join(DIR, f), 'utf8')) as { jobs: Record<string, { steps: Step[] }> }).jobs,
    ).flatMap((j) => j.steps),
  }));

describe('CI workflows', () => {
  it('pin every action by a full commit SHA', () => {
    const uses = workflows.flatMap((w) =>
      w.steps.filter((s) => s.uses).map((s) => `${w.file}: ${s.uses ?? ''}`),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) expect(u).toMatch(/@[0-9a-f]{40}$/);
  });

  it('run the conformance step as exec npm run conformance, so a cancel reaches the run', () => {
    const runs = workflows
      .flatMap((w) => w.steps.map((s) => s.run ?? ''))
      .filter((r) => r.includes('npm run conformance'));
    expect(runs.length).toBeGreaterThan(0);
    for (const r of runs) expect(r.trim()).toMatch(/^exec npm run conformance\b/);
    const pkg = JSON.parse(readFileSync(path.join(DIR, '..', '..', 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.conformance).toMatch(/^exec node /);
  });
});
