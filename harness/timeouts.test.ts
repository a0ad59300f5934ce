import { describe, expect, it } from 'vitest';
import { UserInputError } from './errors.ts';
import {
  DEFAULT_TIMEOUTS,
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
