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
type Step = {
  uses?: string;
  run?: string;
  name?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
};
type Job = { steps: Step[]; strategy?: { matrix?: unknown } };
type Workflow = { on: Record<string, unknown>; jobs: Record<string, Job> };
const parsed = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({ file: f, doc: parse(readFileSync(path.join(DIR, f), 'utf8')) as Workflow }));
const workflows = parsed.map(({ file, doc }) => ({
  file,
  steps: Object.values(doc.jobs).flatMap((j) => j.steps),
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

  it('never interpolate an expression into a shell line: inputs and matrix values come through env', () => {
    const runs = workflows.flatMap((w) =>
      w.steps.filter((s) => s.run).map((s) => `${w.file}: ${s.run ?? ''}`),
    );
    for (const r of runs) expect(r).not.toContain('${{');
  });
});

describe('the version matrix workflow', () => {
  const wf = parsed.find((w) => w.file === 'version-matrix.yml')?.doc;
  const job = (name: string) => wf?.jobs[name] as Job;
  const stepRun = (name: string, re: RegExp) => job(name).steps.find((s) => re.test(s.run ?? ''));

  it('runs weekly and on demand', () => {
    expect(Object.keys(wf?.on ?? {}).sort()).toEqual(['schedule', 'workflow_dispatch']);
  });

  it('takes its cells from `upgrade matrix --json` (the plan’s tables), filtered by the input through env', () => {
    const step = stepRun('cells', /upgrade matrix --json/);
    expect(step?.env).toEqual({ CELLS: '${{ inputs.cells }}' });
    expect(job('run').strategy?.matrix).toBe('${{ fromJSON(needs.cells.outputs.matrix) }}');
  });

  it('installs the cell’s kind release, writes the cell’s profile and runs the install suite and the smoke subset', () => {
    expect(stepRun('run', /go install "sigs\.k8s\.io\/kind@\$\{KIND_VERSION\}"/)?.env).toEqual({
      KIND_VERSION: '${{ matrix.kind }}',
    });
    expect(stepRun('run', /upgrade matrix --profile-for "\$CELL"/)?.env).toEqual({
      CELL: '${{ matrix.id }}',
    });
    const run = stepRun('run', /npm run conformance/);
    expect(run?.run?.trim()).toBe(
      'exec npm run conformance -- --profile profiles/homelab/matrix-cell.yaml --only "$ONLY"',
    );
    expect(run?.env).toEqual({ ONLY: '${{ matrix.only }}' });
  });
});
