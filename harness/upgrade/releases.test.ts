import { describe, expect, it } from 'vitest';
import { ISTIO_MINORS } from '../istio/versions.ts';
import { checkReleases } from './plan.ts';
import { endOfLifeOn, knownBadFor, MINOR_RELEASES, patchEvidence, RELEASE_TABLE_AS_OF } from './releases.ts';
import { parseVersion } from './version.ts';

const v = parseVersion;

describe('the release table', () => {
  it('has a row for every minor versions.ts knows, and names its age', () => {
    expect(Object.keys(MINOR_RELEASES).sort()).toEqual(Object.keys(ISTIO_MINORS).sort());
    expect(RELEASE_TABLE_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('knows each patch up to the newest of versions.ts, from a tag or from release notes', () => {
    for (const [minor, row] of Object.entries(ISTIO_MINORS))
      for (let p = 0; p <= row.latestPatch; p++)
        expect(patchEvidence(v(`${minor}.${p}`)).kind, `${minor}.${p}`).toMatch(/^(tag|notes)$/);
    expect(patchEvidence(v('1.28.3'))).toEqual({ kind: 'tag', source: 'istio/istio tag 1.28.3' });
    expect(patchEvidence(v('1.31.1')).kind).toBe('notes');
    expect(patchEvidence(v('1.31.2'))).toEqual({ kind: 'unknown-newer', newest: 1 });
    expect(patchEvidence(v('1.31.0-rc.0'))).toEqual({ kind: 'pre-release' });
  });

  it('end of life: 1.28 on 2026-07-01, 1.29 derived 2026-10-01, 1.30 expected ~Nov 2026', () => {
    expect(endOfLifeOn(v('1.28.10'), '2026-11-30')).toEqual({
      state: 'past',
      date: '2026-07-01',
      derived: false,
    });
    expect(endOfLifeOn(v('1.29.8'), '2026-09-30')).toEqual({ state: 'supported', until: '2026-10-01' });
    expect(endOfLifeOn(v('1.29.8'), '2026-11-30')).toEqual({
      state: 'past',
      date: '2026-10-01',
      derived: true,
    });
    expect(endOfLifeOn(v('1.30.5'), '2026-10-31').state).toBe('supported');
    expect(endOfLifeOn(v('1.30.5'), '2026-11-30')).toEqual({
      state: 'expected-now',
      expected: '~Nov 2026 (Expected)',
    });
    expect(endOfLifeOn(v('1.31.1'), '2026-11-30').state).toBe('supported');
  });

  it('known-bad: the CNI iptables-backend flip (istio/istio#61020) up to 1.29.7, 1.30.4 and 1.31.0', () => {
    const ids = (x: string) => knownBadFor(v(x)).map((b) => b.id);
    expect(ids('1.29.7')).toEqual(['istio/istio#61020']);
    expect(ids('1.29.8')).toEqual([]);
    expect(ids('1.30.4')).toEqual(['istio/istio#61020']);
    expect(ids('1.30.5')).toEqual([]);
    expect(ids('1.31.0')).toEqual(['istio/istio#61020']);
    expect(ids('1.31.1')).toEqual([]);
    expect(ids('1.30.2')).toEqual(['istio/istio#61020', 'istio/istio#61211', 'istio/istio#60629']);
    expect(ids('1.28.3')).toEqual([]);
  });
});

describe('check 3: releases', () => {
  it('passes 1.28.3 → 1.31.1 on 2026-11-30, warning about the stops past (or at) end of life', () => {
    const r = checkReleases(['1.28.3', '1.29.8', '1.30.5', '1.31.1'], '2026-11-30');
    expect(r.status).toBe('pass');
    expect(r.summary).toBe('1.31.1 is published, supported on 2026-11-30 and has no known-bad entry');
    expect(r.evidence.map((e) => e.text)).toContain(
      '1.29 reached end of life on 2026-10-01 (derived from the support policy): acceptable as a stop on the way, not as a place to stay',
    );
    expect(r.evidence[0]?.text).toBe(
      'release table as of 2026-09-21 (70 days before the run date 2026-11-30); a newer patch or end-of-life date may exist',
    );
  });

  it('fails a target past end of life, a known-bad target and a pre-release', () => {
    expect(checkReleases(['1.28.3', '1.29.8'], '2026-11-30').status).toBe('fail');
    const bad = checkReleases(['1.30.3', '1.31.0'], '2026-11-30');
    expect(bad.status).toBe('fail');
    expect(bad.summary).toContain('1.31.0 has istio/istio#61020');
    expect(bad.summary).toContain('fixed in 1.31.1');
    expect(checkReleases(['1.30.3', '1.31.0-rc.0'], '2026-11-30').status).toBe('fail');
  });

  it('warns (does not refuse) a patch newer than the table, and a table older than 120 days', () => {
    const newer = checkReleases(['1.30.5', '1.31.2'], '2026-11-30');
    expect(newer.status).toBe('warn');
    expect(newer.summary).toContain(
      '1.31.2 (target (B)) is newer than the newest 1.31 patch the table knows (1.31.1',
    );
    expect(checkReleases(['1.30.5', '1.31.1'], '2027-03-01').evidence[0]?.status).toBe('warn');
  });
});
