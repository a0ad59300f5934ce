import { describe, expect, it } from 'vitest';
import { formatEvents } from './diagnostics.ts';

describe('diagnostics: events', () => {
  it('are ordered by time, not by the text of a Date (which starts with the weekday)', () => {
    // client-node gives Date objects: Sunday's String() sorts after Monday's ("Sun" > "Mon").
    const text = formatEvents([
      {
        metadata: {},
        involvedObject: { kind: 'Pod', name: 'b' },
        reason: 'Second',
        lastTimestamp: new Date('2026-11-30T09:00:00Z'),
      },
      {
        metadata: {},
        involvedObject: { kind: 'Pod', name: 'a' },
        reason: 'First',
        lastTimestamp: new Date('2026-11-29T09:00:00Z'),
      },
      { metadata: {}, involvedObject: { kind: 'Pod', name: 'c' }, reason: 'Undated' },
    ]);
    expect(text.split('\n').map((l) => l.split('\t')[2])).toEqual(['First', 'Second', 'Undated']);
    expect(text.split('\n')[0]?.startsWith('2026-11-29T09:00:00.000Z')).toBe(true);
  });
});
