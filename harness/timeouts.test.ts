import { describe, expect, it } from 'vitest';
import { UserInputError } from './errors.ts';
import { testBudget } from './conformance/define.ts';
import {
  DEFAULT_TIMEOUTS,
  MAX_TIMEOUT_MS,
  NODE_TIMER_MAX_MS,
  TIMEOUT_DOCS,
  formatSeconds,
  humanDuration,
  parseDuration,
  resolveTimeouts,
  timeoutEnvKey,
} from './timeouts.ts';

describe('timeout table', () => {
  it('documents every entry', () => {
    expect(Object.keys(DEFAULT_TIMEOUTS).sort()).toEqual(Object.keys(TIMEOUT_DOCS).sort());
  });
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2')).toBe(2000);
    expect(() => parseDuration('soon')).toThrow(UserInputError);
    expect(() => parseDuration('5m garbage')).toThrow(UserInputError);
  });
  it('environment overrides win, with an exit-2 error when malformed', () => {
    expect(timeoutEnvKey('helmInstall')).toBe('AMBIENT_TIMEOUT_HELM_INSTALL');
    expect(resolveTimeouts({ helmInstall: 1000 }, { AMBIENT_TIMEOUT_HELM_INSTALL: '10m' }).helmInstall).toBe(
      600_000,
    );
    expect(resolveTimeouts({ helmInstall: 1000 }, {}).helmInstall).toBe(1000);
    expect(() => resolveTimeouts({}, { AMBIENT_TIMEOUT_POD_READY: 'x' })).toThrow(
      /AMBIENT_TIMEOUT_POD_READY/,
    );
  });
  it('formats', () => {
    expect(formatSeconds(300_000)).toBe('300s');
    expect(humanDuration(72_000)).toBe('1m12s');
    expect(humanDuration(1500)).toBe('1.5s');
  });
});

function refusal(fn: () => unknown): UserInputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a UserInputError');
}

describe('timeouts from the environment are never accepted silently', () => {
  it.each(['0', '0s', '0.0001', '25h', '596h31m24s', '99999999999999999999999h'])(
    'AMBIENT_TIMEOUT_POD_READY=%s is out of range: exit 2 naming the variable and the range',
    (v) => {
      const e = refusal(() => resolveTimeouts({}, { AMBIENT_TIMEOUT_POD_READY: v }));
      expect(e.exitCode).toBe(2);
      expect(e.message).toBe(`invalid AMBIENT_TIMEOUT_POD_READY=${JSON.stringify(v)}`);
      expect(e.details.expected).toBe('a duration above 0 and at most 24h, such as 90s, 5m, 1m30s or 1500ms');
      expect(e.details.seen).toMatch(/zero|longer than 24h/);
    },
  );

  it.each(['-5s', '-1', 'soon'])('AMBIENT_TIMEOUT_POD_READY=%s is not a duration', (v) => {
    const e = refusal(() => resolveTimeouts({}, { AMBIENT_TIMEOUT_POD_READY: v }));
    expect(e.details.seen).toBe(JSON.stringify(v));
    expect(e.details.fix).toBe('unset AMBIENT_TIMEOUT_POD_READY or give it a duration');
  });

  it('accepts the bounds themselves; an empty value counts as unset', () => {
    expect(resolveTimeouts({}, { AMBIENT_TIMEOUT_POD_READY: '24h' }).podReady).toBe(MAX_TIMEOUT_MS);
    expect(resolveTimeouts({}, { AMBIENT_TIMEOUT_PROBE: '1ms' }).probe).toBe(1);
    expect(resolveTimeouts({}, { AMBIENT_TIMEOUT_PROBE: '' }).probe).toBe(DEFAULT_TIMEOUTS.probe);
  });

  it.each([
    ['AMBIENT_TIMEOUT_HELM_INSTAL', 'AMBIENT_TIMEOUT_HELM_INSTALL'],
    ['AMBIENT_TIMEOUT_HELMINSTALL', 'AMBIENT_TIMEOUT_HELM_INSTALL'],
    ['AMBIENT_TIMEOUT_POD_REDY', 'AMBIENT_TIMEOUT_POD_READY'],
    ['AMBIENT_TIMEOUT_helm_install', 'AMBIENT_TIMEOUT_HELM_INSTALL'],
  ])('a misspelt %s exits 2 naming it and the closest known variable', (name, near) => {
    const e = refusal(() => resolveTimeouts({}, { [name]: '5m' }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`unknown environment variable ${name}`);
    expect(e.details.fix).toBe(`did you mean ${near}?`);
    expect(e.details.expected).toContain('AMBIENT_TIMEOUT_HELM_INSTALL');
  });

  it('an AMBIENT_TIMEOUT_ variable like nothing known gets no guess; its name is bounded', () => {
    const e = refusal(() => resolveTimeouts({}, { AMBIENT_TIMEOUT_COFFEE_BREAK: '5m' }));
    expect(e.details.fix).toBe('unset AMBIENT_TIMEOUT_COFFEE_BREAK');
    const long = refusal(() => resolveTimeouts({}, { [`AMBIENT_TIMEOUT_${'X'.repeat(5000)}`]: '1s' }));
    expect(long.render().length).toBeLessThan(2500);
  });

  it('other variables are not its business', () => {
    expect(() => resolveTimeouts({}, { AMBIENT_TOOL_CACHE: '/x', AMBIENT_TIMEOUTS: '1' })).not.toThrow();
  });

  it('the longest timeout keeps every derived wait inside a Node.js timer', () => {
    expect(NODE_TIMER_MAX_MS).toBe(2147483647);
    const longest = Object.fromEntries(Object.keys(TIMEOUT_DOCS).map((k) => [k, MAX_TIMEOUT_MS])) as never;
    expect(testBudget({}, longest)).toBeLessThanOrEqual(NODE_TIMER_MAX_MS);
    expect(MAX_TIMEOUT_MS + 30_000).toBeLessThanOrEqual(NODE_TIMER_MAX_MS); // helm --timeout + 30 s
  });
});
