import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './suggest.ts';

describe('did you mean', () => {
  it('measures edits, ignoring case', () => {
    expect(editDistance('value', 'values')).toBe(1);
    expect(editDistance('ztunnelMemoryPerpod', 'ztunnelMemoryPerPod')).toBe(0);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests a close or abbreviated known name, and nothing for a stranger', () => {
    const known = ['name', 'chart', 'syncWave', 'valuesFile', 'values'];
    expect(closest('value', known)).toBe('values');
    expect(closest('syncwave', known)).toBe('syncWave');
    expect(closest('valuesfil', known)).toBe('valuesFile');
    expect(closest('mem', ['cpu', 'memory'])).toBe('memory');
    expect(closest('sidecars', known)).toBeUndefined();
    expect(closest('x'.repeat(500), known)).toBeUndefined();
    expect(closest('metricServer', ['kind', 'metricsServer'])).toBe('metricsServer');
  });
});
