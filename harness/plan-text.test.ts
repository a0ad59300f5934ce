import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Plan } from './plan.ts';
import { renderPlanText } from './plan-text.ts';
import { shellLine, shellQuote } from './shell.ts';

describe('shellQuote', () => {
  it('leaves plain words bare and quotes everything a shell would read specially', () => {
    expect(shellQuote('kind')).toBe('kind');
    expect(shellQuote('--name=ambient-conformance-1a2b')).toBe('--name=ambient-conformance-1a2b');
    for (const w of ['{{json .}}', '{1..3}', '', "it's", '*', '[a]', '$HOME', 'a b', '~', '!x', 'a;b', '`x`'])
      expect(shellQuote(w)).toMatch(/^'.*'$/s);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
  it('a shell given the line gets back the same argv', () => {
    const argv = ['{{json .}}', "it's", '', 'a b', '$HOME', '*', '{1..3}', 'x\ny'];
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellLine(argv)}`], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv);
  });
});

describe('renderPlanText', () => {
  const plan: Plan = {
    steps: [
      {
        id: 'preflight',
        phase: 'preflight',
        when: 'always',
        description: 'check the Docker daemon',
        command: ['docker', 'info', '--format', '{{json .}}'],
      },
      {
        id: 'cluster.api',
        phase: 'cluster',
        when: 'always',
        description: `${'word '.repeat(60)}end`,
        api: 'check-api',
      },
      ...Array.from({ length: 8 }, (_, i) => ({
        id: `s${i}`,
        phase: 'tests' as const,
        when: 'at-end' as const,
        description: 'x',
      })),
    ],
  };
  const text = renderPlanText(plan, 60);
  it('numbers the steps, each with its id and when, aligned', () => {
    expect(text.split('\n')[0]).toBe(' 1. preflight · always');
    expect(text).toContain('\n10. s7 · at-end\n');
  });
  it('prints a command whole on one line, quoted so that it can be pasted', () => {
    expect(text).toContain("\n    $ docker info --format '{{json .}}'\n");
  });
  it('wraps descriptions at the width, indented under the step', () => {
    const body = text.split('\n\n')[1]?.split('\n').slice(1) ?? [];
    expect(body.length).toBeGreaterThan(4);
    for (const line of body) {
      expect(line.startsWith('    ')).toBe(true);
      expect(line.length).toBeLessThanOrEqual(60);
    }
  });
});
