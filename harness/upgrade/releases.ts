import { ISTIO_MINORS } from '../istio/versions.ts';
import { compareVersions, minorKey, parseVersion, type IstioVersion } from './version.ts';

/**
 * The release table of the upgrade plan: which Istio releases exist, when each minor reaches end of
 * life, and which patches are known to be bad. Kubernetes windows and the newest patch per minor
 * stay in harness/istio/versions.ts (ISTIO_MINORS), the one table `run` uses too; this file adds
 * what only an upgrade needs. To extend it: add a minor's row (end of life from istio.io
 * supportStatus.yml, the release date from the x.y.0 tag and announcement), bump `latestPatch` in
 * versions.ts, and move RELEASE_TABLE_AS_OF to the date of the newest release note read.
 *
 * Sources (each row names its own):
 * - supportStatus: istio/istio.io data/compatibility/supportStatus.yml (releaseDate, eolDate).
 * - policy: istio/istio.io content/en/docs/releases/supported-releases/index.md, "supported until
 *   6 weeks after the N+2 minor release".
 * - tags: the istio/istio repository (mirror of 2026-08-22: tags up to 1.28.10, 1.29.6, 1.30.3 and
 *   1.31.0-rc.0).
 * - notes: istio/istio.io content/en/news/releases/<minor>.x/announcing-<version>/ (the patches
 *   newer than the istio/istio mirror are known from their release notes only).
 *
 * Patches the mirror lacks (1.29.7, 1.29.8, 1.30.4, 1.30.5, 1.31.0, 1.31.1) count as published on
 * the strength of their release notes; the report says so ("release notes only"), and the checks
 * that need a chart's source (values keys, rendered objects) say they could not run for them
 * rather than borrow another patch's charts. A patch newer than the table is neither confirmed nor
 * refused: the check warns and says how old the table is.
 */

/** The newest release note this table was built from (Istio 1.29.8, 1.30.5 and 1.31.1). */
export const RELEASE_TABLE_AS_OF = '2026-09-21';

export interface EndOfLife {
  /** ISO date the minor is (or was) no longer supported, when known. */
  date?: string;
  /** The supportStatus.yml text when only an expectation is published ("~Nov 2026 (Expected)"). */
  expected?: string;
  /** True when `date` is derived from the policy rather than published. */
  derived?: boolean;
  /** Where the date comes from. */
  source: string;
}

export interface MinorReleases {
  minor: string;
  /**
   * ISO date of x.y.0: its tag in istio/istio (tagger date) and its announcement's publishdate
   * (1.30.0: both 2026-05-18); supportStatus.yml's releaseDate can be earlier than either.
   */
  released: string;
  endOfLife: EndOfLife;
  /** Patches tagged in the istio/istio mirror: [first, last]. */
  tagged?: [number, number];
  /** Patches known from release notes only, with their dates. */
  notesOnly: { patch: number; date: string; source: string }[];
}

export const MINOR_RELEASES: Readonly<Record<string, MinorReleases>> = {
  '1.28': {
    minor: '1.28',
    released: '2025-11-05',
    endOfLife: { date: '2026-07-01', source: 'supportStatus.yml: eolDate "Jul 1, 2026"' },
    tagged: [0, 10],
    notesOnly: [],
  },
  '1.29': {
    minor: '1.29',
    released: '2026-02-16',
    endOfLife: {
      date: '2026-10-01',
      derived: true,
      expected: '~Aug 2026 (Expected)',
      source:
        'supportStatus.yml: eolDate "~Aug 2026 (Expected)"; policy: 6 weeks after 1.31.0 (2026-08-20) is 2026-10-01',
    },
    tagged: [0, 6],
    notesOnly: [
      { patch: 7, date: '2026-08-26', source: 'news/releases/1.29.x/announcing-1.29.7' },
      { patch: 8, date: '2026-09-21', source: 'news/releases/1.29.x/announcing-1.29.8' },
    ],
  },
  '1.30': {
    minor: '1.30',
    // The 1.30.0 tag (istio/istio, tagger date 2026-05-18) and the announcement (istio/istio.io
    // content/en/news/releases/1.30.x/announcing-1.30/_index.md, publishdate 2026-05-18);
    // supportStatus.yml's releaseDate says May 14, before the tag existed.
    released: '2026-05-18',
    endOfLife: {
      expected: '~Nov 2026 (Expected)',
      source:
        'supportStatus.yml: eolDate "~Nov 2026 (Expected)"; policy: 6 weeks after 1.32.0, which no release note up to the table date announces',
    },
    tagged: [0, 3],
    notesOnly: [
      { patch: 4, date: '2026-08-26', source: 'news/releases/1.30.x/announcing-1.30.4' },
      { patch: 5, date: '2026-09-21', source: 'news/releases/1.30.x/announcing-1.30.5' },
    ],
  },
  '1.31': {
    minor: '1.31',
    released: '2026-08-20',
    endOfLife: {
      source: 'not announced: policy gives 6 weeks after 1.33.0',
    },
    notesOnly: [
      { patch: 0, date: '2026-08-20', source: 'news/releases/1.31.x/announcing-1.31' },
      { patch: 1, date: '2026-09-21', source: 'news/releases/1.31.x/announcing-1.31.1' },
    ],
  },
};

/**
 * Per minor, how a known-bad entry stands: the first fixed patch (every patch before it, from
 * `since`, is affected; 0 when no release of the minor was affected), 'not-fixed' (every patch
 * of the minor is affected and none fixes it), or 'not-affected'. A minor without a key is
 * unknown to the table, and the plan says so rather than call it clean.
 */
export type FixedIn = number | 'not-fixed' | 'not-affected';

/** A bug in a range of patches, with the patches that fix it. */
export interface KnownBad {
  id: string;
  /** One line: what goes wrong. */
  summary: string;
  /** Per minor (see FixedIn); a minor with no key is unknown. */
  fixedIn: Record<string, FixedIn>;
  /** Per minor: the first affected patch (default 0). */
  since?: Record<string, number>;
  /** Why it matters for an ambient upgrade. */
  impact: string;
  source: string;
}

export const KNOWN_BAD: readonly KnownBad[] = [
  {
    id: 'istio/istio#61020',
    summary:
      'the CNI node agent’s auto-detected iptables backend (legacy vs nft) can flip between agent restarts, writing duplicate redirection rules into enrolled pods',
    // 1.28: not known. Its 1.28.10 has the same detection (tools/istio-iptables/pkg/dependencies/
    // implementation.go DetectIptablesVersion) and release-1.28 has no fix, but there the agent does
    // not rewrite enrolled pods' rules at start by default (reconcileIptablesOnStartup: false).
    fixedIn: { '1.29': 8, '1.30': 5, '1.31': 1 },
    impact: 'every CNI upgrade restarts the agent on each node',
    source:
      'istio.io news/releases/1.31.x/announcing-1.31.1 (Fixed "an issue in ambient mode where the CNI node agent auto-detected iptables backend (`legacy` vs `nft`) could flip between agent restarts", Issue #61020); the same fix in announcing-1.29.8 and -1.30.5; istio/istio 923bbd11e2f (master, "Fixes #61020")',
  },
  {
    id: 'istio/istio#61211',
    summary: 'the CNI agent could pair a pod with another pod’s network namespace (wrong identity)',
    fixedIn: { '1.28': 'not-fixed', '1.29': 7, '1.30': 4, '1.31': 0 },
    impact: 'traffic could be proxied with the wrong identity',
    source:
      'istio/istio releasenotes/notes/validate-netns-ownership.yaml (issue 61211) on release-1.29 (51b6e6a617f), release-1.30 (41de1acc0bf) and release-1.31 (d7f9bf03e48, in tag 1.31.0-rc.0), not on release-1.28; @1.28.10 cni/pkg/nodeagent/podcgroupns_linux.go has no pod-IP check; istio.io news/releases/1.29.x/announcing-1.29.7 and 1.31.x/announcing-1.31/change-notes (Issue #61211)',
  },
  {
    id: 'istio/istio#60629',
    summary:
      'metadata-only VirtualService changes (Argo CD labels, last-applied annotations) trigger full XDS pushes to every proxy',
    fixedIn: { '1.28': 'not-affected', '1.29': 'not-affected', '1.30': 3, '1.31': 0 },
    impact: 'GitOps churn raises istiod CPU and push latency',
    source:
      'istio.io news/releases/1.30.x/announcing-1.30.3 (Issue #60629); 1.31.x/announcing-1.31/change-notes ("an issue introduced in Istio 1.30", fixed in 1.31.0)',
  },
];

export type KnownBadState =
  /** `fixedIn`: the minor's first fixed patch, or undefined when no patch of the minor fixes it. */
  { state: 'affected'; fixedIn?: number } | { state: 'clean' } | { state: 'unknown' };

/** How `version` stands with one known-bad entry. */
export function knownBadState(b: KnownBad, version: IstioVersion): KnownBadState {
  const key = minorKey(version);
  if (!Object.hasOwn(b.fixedIn, key)) return { state: 'unknown' };
  const fixed = b.fixedIn[key];
  if (fixed === 'not-affected') return { state: 'clean' };
  const since = b.since?.[key] ?? 0;
  if (version.patch < since) return { state: 'clean' };
  if (fixed === 'not-fixed' || fixed === undefined) return { state: 'affected' };
  return version.patch < fixed ? { state: 'affected', fixedIn: fixed } : { state: 'clean' };
}

export type PatchEvidence =
  | { kind: 'tag'; source: string }
  | { kind: 'notes'; date: string; source: string }
  | { kind: 'unknown-newer'; newest: number }
  | { kind: 'pre-release' }
  | { kind: 'unknown-minor' };

/** How this table knows `version` exists. */
export function patchEvidence(version: IstioVersion): PatchEvidence {
  if (version.pre !== undefined) return { kind: 'pre-release' };
  const row = MINOR_RELEASES[minorKey(version)];
  const minor = ISTIO_MINORS[minorKey(version)];
  if (!row || !minor) return { kind: 'unknown-minor' };
  if (row.tagged && version.patch >= row.tagged[0] && version.patch <= row.tagged[1])
    return { kind: 'tag', source: `istio/istio tag ${version.text}` };
  const note = row.notesOnly.find((n) => n.patch === version.patch);
  if (note) return { kind: 'notes', date: note.date, source: `istio/istio.io ${note.source}` };
  return { kind: 'unknown-newer', newest: minor.latestPatch };
}

/** Newest known patch of a minor ("1.29" → "1.29.8"), from ISTIO_MINORS. */
export function newestPatch(minor: string): string | undefined {
  const row = ISTIO_MINORS[minor];
  return row ? `${minor}.${row.latestPatch}` : undefined;
}

/** The known-bad entries that affect `version`. */
export function knownBadFor(version: IstioVersion): KnownBad[] {
  return KNOWN_BAD.filter((b) => knownBadState(b, version).state === 'affected');
}

/** The known-bad entries the table cannot say anything about for `version`'s minor. */
export function knownBadUnknown(version: IstioVersion): KnownBad[] {
  return KNOWN_BAD.filter((b) => knownBadState(b, version).state === 'unknown');
}

export type EolState =
  | { state: 'past'; date: string; derived: boolean }
  | { state: 'expected-now'; expected: string }
  | { state: 'supported'; until?: string }
  | { state: 'unknown' };

/** Whether the minor of `version` is past end of life on `runDate` (ISO). */
export function endOfLifeOn(version: IstioVersion, runDate: string): EolState {
  const row = MINOR_RELEASES[minorKey(version)];
  if (!row) return { state: 'unknown' };
  const eol = row.endOfLife;
  if (eol.date !== undefined && eol.date <= runDate)
    return { state: 'past', date: eol.date, derived: eol.derived === true };
  if (eol.date !== undefined) return { state: 'supported', until: eol.date };
  const m = eol.expected === undefined ? null : /~(\w{3}) (\d{4})/.exec(eol.expected);
  if (m && eol.expected !== undefined) {
    const month = MONTHS.indexOf(m[1] ?? '') + 1;
    const start = `${m[2]}-${String(month).padStart(2, '0')}-01`;
    if (month > 0 && start <= runDate) return { state: 'expected-now', expected: eol.expected };
  }
  return { state: 'supported' };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Days from `from` to `to` (ISO dates). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Versions sorted ascending. */
export function sortVersions(versions: string[]): string[] {
  return [...versions].sort((a, b) => compareVersions(a, b));
}

export { parseVersion };
