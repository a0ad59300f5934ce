import { describe, expect, it } from 'vitest';
import { ISTIO_MINORS } from '../istio/versions.ts';
import { checkReleases } from './plan.ts';
import {
  endOfLifeOn,
  KNOWN_BAD,
  knownBadFor,
  knownBadState,
  knownBadUnknown,
  MINOR_RELEASES,
  patchEvidence,
  RELEASE_TABLE_AS_OF,
} from './releases.ts';
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
    expect(ids('1.29.6')).toEqual(['istio/istio#61020', 'istio/istio#61211']); // #60629: 1.30 only
  });

  it('istio/istio#61211 was never fixed in 1.28: every 1.28 patch is affected, explicitly', () => {
    const b = KNOWN_BAD.find((x) => x.id === 'istio/istio#61211');
    if (!b) throw new Error('no #61211');
    expect(b.fixedIn['1.28']).toBe('not-fixed');
    expect(knownBadState(b, v('1.28.10'))).toEqual({ state: 'affected' });
    expect(knownBadFor(v('1.28.3')).map((x) => x.id)).toEqual(['istio/istio#61211']);
    expect(knownBadState(b, v('1.29.7'))).toEqual({ state: 'clean' });
    expect(knownBadState(b, v('1.29.6'))).toEqual({ state: 'affected', fixedIn: 7 });
    expect(knownBadState(b, v('1.31.0'))).toEqual({ state: 'clean' });
  });

  it('quotes the 1.31.1 release note verbatim (istio.io announcing-1.31.1)', () => {
    expect(KNOWN_BAD.find((x) => x.id === 'istio/istio#61020')?.source).toContain(
      '"an issue in ambient mode where the CNI node agent auto-detected iptables backend (`legacy` vs `nft`) could flip between agent restarts"',
    );
  });

  it('a minor an entry does not cover is unknown, not clean (#61020 in 1.28)', () => {
    const b = KNOWN_BAD.find((x) => x.id === 'istio/istio#61020');
    if (!b) throw new Error('no #61020');
    expect(knownBadState(b, v('1.28.10'))).toEqual({ state: 'unknown' });
    expect(knownBadUnknown(v('1.28.10')).map((x) => x.id)).toEqual(['istio/istio#61020']);
    // Every entry covers 1.29 to 1.31.
    for (const x of KNOWN_BAD)
      for (const m of ['1.29', '1.30', '1.31'])
        expect(Object.hasOwn(x.fixedIn, m), `${x.id} ${m}`).toBe(true);
  });

  it('1.30 was released on 2026-05-18 (tag and announcement), not supportStatus.yml’s May 14', () => {
    expect(MINOR_RELEASES['1.30']?.released).toBe('2026-05-18');
  });
});

describe('check 3: releases', () => {
  it('a version not yet released on the run date is not published: a target fails, and the summary says so', () => {
    const r = checkReleases(['1.30.5', '1.31.1'], '2026-09-01');
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('1.31.1 (target (B)) is not published on 2026-09-01: released 2026-09-21');
    expect(r.summary).not.toContain('supported on');
    // A tagged x.y.N (N > 0) cannot be out before its minor's x.y.0.
    expect(checkReleases(['1.29.6', '1.30.1'], '2026-05-01').status).toBe('fail');
    expect(checkReleases(['1.30.5', '1.31.1'], '2026-09-21').status).not.toBe('fail');
  });

  it('warns (not passes) 1.28.3 → 1.31.1 on 2026-11-30: stops past or at end of life are normal but counted', () => {
    const r = checkReleases(['1.28.3', '1.29.8', '1.30.5', '1.31.1'], '2026-11-30');
    expect(r.status).toBe('warn');
    expect(r.summary).toBe(
      '1.31.1 is usable, with warnings: 1.29 reached end of life on 2026-10-01 (derived from the support policy): acceptable as a stop on the way, not as a place to stay; 1.30: end of life expected ~Nov 2026 (Expected), which the run date has reached; it may be unsupported already',
    );
    expect(r.evidence.filter((e) => e.status === 'warn').map((e) => e.text)).toContain(
      '1.29 reached end of life on 2026-10-01 (derived from the support policy): acceptable as a stop on the way, not as a place to stay',
    );
    const clean = checkReleases(['1.30.5', '1.31.1'], '2026-10-15');
    expect(clean.status).toBe('pass');
    expect(clean.summary).toBe(
      '1.31.1 is published, supported on 2026-10-15 and has no known-bad entry; no stop is past end of life or known-bad',
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
    const unfixed = checkReleases(['1.28.3', '1.28.10'], '2026-06-01');
    expect(unfixed.status).toBe('fail');
    expect(unfixed.summary).toContain('1.28.10 has istio/istio#61211');
    expect(unfixed.summary).toContain('no 1.28 patch fixes it');
    expect(unfixed.evidence.find((e) => e.text.includes('#61020'))).toMatchObject({
      status: 'warn',
      text: expect.stringContaining('the table does not say whether 1.28 has istio/istio#61020') as unknown,
    });
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
