import { clip, UserInputError } from '../errors.ts';

/**
 * The Istio minors this tool knows, with the Kubernetes minors each supports and the newest patch
 * seen published. One table for the profile's `istio.version` and `--istio-version` (the
 * pinned default is in pins.json).
 *
 * Sources:
 * - Kubernetes windows: istio/istio.io data/compatibility/supportStatus.yml, `k8sVersions` (1.28:
 *   1.30-1.34, 1.29: 1.31-1.35, 1.30: 1.32-1.36); 1.31 from
 *   content/en/news/releases/1.31.x/announcing-1.31/_index.md ("officially supported on Kubernetes
 *   versions 1.32 to 1.36").
 * - Newest patches: the release notes in istio/istio.io content/en/news/releases/1.2x.x/
 *   (announcing-1.28.10, -1.29.8, -1.30.5, -1.31.1); 1.28.10 is also the last 1.28 tag of
 *   istio/istio (1.28 reached end of life on 2026-07-01, supportStatus.yml).
 *
 * A newer patch of a known minor is allowed with a warning (users try the next patch before it is
 * in any table); a minor missing here is refused, because the checks below (Kubernetes window,
 * image hubs in istio/hosts.ts) would be guesses. To add one, add its row from the sources above.
 */
export interface IstioMinor {
  /** "1.28" */
  minor: string;
  /** Newest patch seen published, e.g. 10 for 1.28.10. */
  latestPatch: number;
  /** Supported Kubernetes minors (the y of 1.y). */
  kubernetes: readonly number[];
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const ISTIO_MINORS: Readonly<Record<string, IstioMinor>> = {
  '1.28': { minor: '1.28', latestPatch: 10, kubernetes: range(30, 34) },
  '1.29': { minor: '1.29', latestPatch: 8, kubernetes: range(31, 35) },
  '1.30': { minor: '1.30', latestPatch: 5, kubernetes: range(32, 36) },
  '1.31': { minor: '1.31', latestPatch: 1, kubernetes: range(32, 36) },
};

/**
 * The version forms Istio publishes (tags of istio/istio, e.g. 1.28.3, 1.29.0-rc.1,
 * 1.31.0-alpha.0): MAJOR.MINOR.PATCH, and pre-releases `-alpha.N`, `-beta.N`, `-rc.N` of a
 * minor's first release only (every alpha/beta/rc tag from 1.20 to 1.31 is on x.y.0). Numbers
 * carry no leading zeros (`01.028.003` is not a version any chart repository serves).
 */
const VERSION_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(alpha|beta|rc)\.(0|[1-9]\d*))?$/;

const EXPECTED_FORM =
  'an Istio version: MAJOR.MINOR.PATCH such as 1.28.3, or a pre-release of a minor’s first release such as 1.29.0-rc.1 (-alpha.N, -beta.N, -rc.N), without leading zeros';

export interface IstioVersionCheck {
  /** The table row of its minor. */
  minor: IstioMinor;
  /** Something the user should know (newer patch than the table, pre-release), if anything. */
  warning?: string;
}

/** What is wrong with a version, for a message; `known` is false for a well-formed unknown minor. */
export interface IstioVersionProblem {
  expected: string;
  seen: string;
  fix?: string;
  known: boolean;
}

/**
 * Why `value` is not an Istio version this tool can install, or undefined when it is. Shared by
 * the profile schema (`istio.version`) and `--istio-version` (through checkIstioVersion).
 */
export function istioVersionProblem(value: unknown): IstioVersionProblem | undefined {
  if (typeof value !== 'string')
    return {
      expected: EXPECTED_FORM,
      seen: value === undefined ? 'nothing (field missing)' : clip(JSON.stringify(value) ?? typeof value),
      known: true,
    };
  const seen = value === '' ? 'an empty value' : clip(value);
  const m = value.length <= 40 ? VERSION_RE.exec(value) : null;
  if (!m) return { expected: EXPECTED_FORM, seen, known: true };
  const [, major, minor, patch, pre] = m;
  if (pre !== undefined && patch !== '0')
    return { expected: `${EXPECTED_FORM}; Istio tags pre-releases only on x.y.0`, seen, known: true };
  const key = `${major}.${minor}`;
  if (ISTIO_MINORS[key] === undefined)
    return {
      expected: `a release of an Istio minor this tool knows: ${Object.keys(ISTIO_MINORS).join(', ')}`,
      seen: `${value} (Istio ${key} is not in the table)`,
      fix: `use a known minor, or add ${key} with its supported Kubernetes minors (istio.io supportStatus.yml) to harness/istio/versions.ts`,
      known: false,
    };
  return undefined;
}

/**
 * Checks an Istio version, wherever it comes from: `where.field` names it (`istio.version` in
 * `where.file`, or the flag `--istio-version`). Throws a UserInputError (exit 2) for a malformed
 * version or an unknown minor; returns a warning for a patch newer than the table or a pre-release.
 */
export function checkIstioVersion(
  value: unknown,
  where: { field: string; file?: string },
): IstioVersionCheck {
  const problem = istioVersionProblem(value);
  if (problem !== undefined) {
    const shown = typeof value === 'string' ? JSON.stringify(clip(value, 80)) : String(value);
    const headline =
      where.file === undefined
        ? `${where.field} ${shown} is not an Istio version${problem.known ? '' : ' this tool knows'}`
        : `invalid profile ${where.file}: ${where.field}`;
    throw new UserInputError(headline, {
      expected: problem.expected,
      seen: problem.seen,
      ...(problem.fix === undefined ? {} : { fix: problem.fix }),
    });
  }
  const version = value as string;
  const [, minor, patch, pre] = /^(\d+\.\d+)\.(\d+)(-.*)?$/.exec(version) ?? [];
  const row = ISTIO_MINORS[minor ?? ''];
  if (row === undefined) throw new Error(`unreachable: ${version} passed istioVersionProblem`);
  if (pre !== undefined)
    return {
      minor: row,
      warning: `Istio ${version} is a pre-release of ${row.minor}.0: the run tests that build, not a release`,
    };
  if (Number(patch) > row.latestPatch)
    return {
      minor: row,
      warning: `Istio ${version} is newer than the newest ${row.minor} patch this tool knows (${row.minor}.${row.latestPatch}); it is checked as ${row.minor} (Kubernetes 1.${row.kubernetes[0]}-1.${row.kubernetes[row.kubernetes.length - 1]}). If the charts are not found, check the version`,
    };
  return { minor: row };
}
