import { describe, expect, it } from 'vitest';
import { UserInputError } from '../errors.ts';
import { PINS } from '../pins.ts';
import { checkIstioVersion, ISTIO_MINORS, istioVersionProblem } from './versions.ts';

function refused(
  value: unknown,
  where: { field: string; file?: string } = { field: '--istio-version' },
): UserInputError {
  try {
    checkIstioVersion(value, where);
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('Istio versions (one validator for istio.version and --istio-version)', () => {
  it.each(['1.28.3', '1.28.0', '1.28.10', '1.29.8', '1.30.5', '1.31.1'])('accepts the release %s', (v) => {
    expect(checkIstioVersion(v, { field: 'istio.version' })).toEqual({ minor: ISTIO_MINORS[v.slice(0, 4)] });
  });

  it.each(['1.29.0-rc.1', '1.31.0-alpha.0', '1.30.0-beta.0'])(
    'accepts the pre-release %s (Istio tags alpha/beta/rc on x.y.0) with a warning',
    (v) => {
      expect(checkIstioVersion(v, { field: 'istio.version' }).warning).toContain('is a pre-release');
    },
  );

  it('warns, not refuses, a newer patch of a known minor (users try the next patch first)', () => {
    const r = checkIstioVersion('1.28.11', { field: 'istio.version' });
    expect(r.minor.minor).toBe('1.28');
    expect(r.warning).toContain('newer than the newest 1.28 patch this tool knows (1.28.10)');
  });

  it.each([
    ['', 'an empty value'],
    ['1.28', '1.28'],
    ['latest', 'latest'],
    ['1.28.3-foo', '1.28.3-foo'],
    ['1.28.3-distroless', '1.28.3-distroless'],
    ['01.028.003', '01.028.003'],
    ['1.28.03', '1.28.03'],
    ['v1.28.3', 'v1.28.3'],
    ['1.28.3 ', '1.28.3 '],
    ['1.28.0-rc', '1.28.0-rc'],
    ['1.28.0-RC.1', '1.28.0-RC.1'],
  ])('refuses the malformed %j, naming the flag and the legal forms', (v, seen) => {
    const e = refused(v);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`--istio-version ${JSON.stringify(v)} is not an Istio version`);
    expect(e.details.expected).toContain('MAJOR.MINOR.PATCH such as 1.28.3');
    expect(e.details.expected).toContain('-rc.N');
    expect(e.details.seen).toBe(seen);
  });

  it('refuses a pre-release of a patch (Istio has none: 1.28.3-rc.0)', () => {
    expect(refused('1.28.3-rc.0').details.expected).toContain('pre-releases only on x.y.0');
  });

  it.each(['1.99.0', '1.27.4', '2.0.0', '0.8.0'])(
    'refuses the unknown minor of %s, listing the known ones',
    (v) => {
      const e = refused(v, { field: 'istio.version', file: '/p.yaml' });
      expect(e.message).toBe('invalid profile /p.yaml: istio.version');
      expect(e.details.expected).toBe('a release of an Istio minor this tool knows: 1.28, 1.29, 1.30, 1.31');
      expect(e.details.seen).toContain(v);
      expect(e.details.fix).toContain('harness/istio/versions.ts');
    },
  );

  it('names the flag for an unknown minor too', () => {
    expect(refused('1.99.0').message).toBe(
      '--istio-version "1.99.0" is not an Istio version this tool knows',
    );
  });

  it('bounds what it echoes', () => {
    const e = refused('1'.repeat(100_000));
    expect(e.render().length).toBeLessThan(1000);
    expect(e.details.seen).toContain('(100000 characters in all)');
  });

  it('refuses non-strings (a YAML number 1.28)', () => {
    expect(istioVersionProblem(1.28)?.seen).toBe('1.28');
    expect(istioVersionProblem(undefined)?.seen).toBe('nothing (field missing)');
  });

  it('the pinned version is a known release, with the Kubernetes window pins.json states', () => {
    const r = checkIstioVersion(PINS.istio.version, { field: 'pins.json istio.version' });
    expect(r.warning).toBeUndefined();
    expect(PINS.istio.supportedKubernetes).toEqual(r.minor.kubernetes.map((m) => `1.${m}`));
  });

  it('the table follows istio.io supportStatus.yml and the 1.31 announcement', () => {
    const window = (m: string) => {
      const k = ISTIO_MINORS[m]?.kubernetes ?? [];
      return `1.${k[0]}-1.${k[k.length - 1]}`;
    };
    expect([window('1.28'), window('1.29'), window('1.30'), window('1.31')]).toEqual([
      '1.30-1.34',
      '1.31-1.35',
      '1.32-1.36',
      '1.32-1.36',
    ]);
  });
});
