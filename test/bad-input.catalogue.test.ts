import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type ExpectStatic } from 'vitest';
import { parse, stringify } from 'yaml';
import setupStandalone from '../harness/conformance/global-setup.ts';
import { UserInputError } from '../harness/errors.ts';
import { log } from '../harness/progress.ts';
import { fixture, makeFakeBin, withEnv, type FakeBin } from './helpers/fake-bin.ts';
import { runMain } from './helpers/in-process.ts';

/**
 * Issue 10, "Keep it true": a catalogue of bad inputs. Every one exits 2 (the user's input) or 3
 * (the machine or cluster is not ready, as the README says), names what is wrong (field, flag,
 * variable, file or object), says what was expected (the rendered error's `expected:` line, see
 * harness/errors.ts render()) and prints no stack trace.
 *
 * The CLI runs in this process (`main` from cli/main.ts) with stdout and stderr captured, PATH on
 * fake docker, kind and helm, and HOME and the tool cache in a temp folder, so nothing reaches the
 * machine or the network. Inputs that fail validation must fail before anything is spawned: the
 * fakes record every call. Each case gets a folder of its own; `$D` in argv, environment values,
 * file contents, symlink targets and string expectations stands for it. A few cases run the real
 * binary, where only a separate process can show the behaviour (memory, the entry's exit code).
 */

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'ambient-conformance.mjs');
const HOMELAB = path.join(ROOT, 'profiles', 'homelab');
const KIND_CONFIG = path.join(ROOT, 'clusters', 'kind-3node.yaml');
const EXAMPLES = path.join(ROOT, 'examples', 'netpol');

/** A file in the case folder: text or bytes, a symlink, a FIFO, or a folder. */
type Entry = string | Buffer | { link: string } | { fifo: true } | { dir: true };

interface BadInput {
  name: string;
  argv: string[];
  env?: Record<string, string | undefined>;
  files?: Record<string, Entry>;
  code: 2 | 3;
  /** The offending field, flag, variable, file or object, as the message names it. */
  names: RegExp | string;
  /** What the `expected:` line says (any text when left out). */
  expected?: RegExp | string;
  /** A commander usage error: `error: …` and the usage hint instead of an `expected:` line. */
  usage?: true;
  /** At most this many characters of output (values are echoed bounded). */
  bounded?: number;
  /** May spawn the fake tools (the case gets past validation on purpose). */
  spawns?: true;
}

// ---------------------------------------------------------------------------------------------
// inputs

const DIGEST = '7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a';
const VALUES: Record<string, string> = Object.fromEntries(
  ['istiod-values.yaml', 'cni-values.yaml', 'ztunnel-values.yaml'].map((f) => [
    f,
    readFileSync(path.join(HOMELAB, f), 'utf8'),
  ]),
);

/** The embedded profile, with its kind config made absolute, after `mutate`. */
function profileYaml(mutate: (d: any) => void = () => undefined): string {
  const d = parse(readFileSync(path.join(HOMELAB, 'profile.yaml'), 'utf8'));
  d.cluster.kind.config = KIND_CONFIG;
  mutate(d);
  return stringify(d);
}

const PROFILE = '$D/profile.yaml';
const invalid = (field: string, file = PROFILE) => `invalid profile ${file}: ${field}`;

/** A variant of the embedded profile (values files beside it), refused naming `field`. */
function profile(
  name: string,
  mutate: (d: any) => void,
  field: string,
  expected?: RegExp | string,
  opts: { files?: Record<string, Entry>; command?: string; names?: RegExp | string } = {},
): BadInput {
  const command = opts.command ?? 'plan';
  return {
    name: `profile: ${name}`,
    argv: [command, '--profile', PROFILE, ...(command === 'run' ? ['--reports-dir', '$D/reports'] : [])],
    files: { ...VALUES, 'profile.yaml': profileYaml(mutate), ...opts.files },
    code: 2,
    names: opts.names ?? invalid(field),
    ...(expected === undefined ? {} : { expected }),
  };
}

/** A profile file with exactly this content. */
function rawProfile(
  name: string,
  content: Entry,
  names: RegExp | string,
  expected?: RegExp | string,
): BadInput {
  return {
    name: `profile file: ${name}`,
    argv: ['plan', '--profile', PROFILE],
    files: { 'profile.yaml': content },
    code: 2,
    names,
    ...(expected === undefined ? {} : { expected }),
  };
}

/** The embedded profile with other values files. */
function values(
  name: string,
  files: Record<string, string>,
  names: string,
  expected?: RegExp | string,
): BadInput {
  return profile(name, () => undefined, '', expected, { files, names });
}

const TOO_BIG = `# ${'x'.repeat(1024 * 1024)}\n`;
const ALIAS_BOMB = (() => {
  const lines = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
})();

const KUBECONFIG_GOOD =
  'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: staging, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: staging\n';
const KUBECONFIG_NO_CURRENT = KUBECONFIG_GOOD.replace('current-context: staging\n', '');
const KC_USABLE = 'kubeconfig $D/kc is not usable';
const KC_EXPECTED = 'a kubeconfig file (kind: Config with clusters, contexts and users)';

const PROFILE_CASES: BadInput[] = [
  // The file itself.
  rawProfile(
    'a folder',
    { dir: true },
    'profile $D/profile.yaml cannot be read',
    /regular file of at most 1048576 bytes/,
  ),
  {
    name: 'profile file: does not exist',
    argv: ['plan', '--profile', '$D/nope.yaml'],
    code: 2,
    names: 'profile not found: $D/nope.yaml',
    expected: 'an existing, readable file',
  },
  {
    name: 'profile file: a dangling symlink',
    argv: ['plan', '--profile', PROFILE],
    files: { 'profile.yaml': { link: '$D/gone.yaml' } },
    code: 2,
    names: 'profile not found: $D/profile.yaml',
    expected: 'an existing, readable file',
  },
  {
    name: 'profile file: --profile /dev/zero (a character device)',
    argv: ['plan', '--profile', '/dev/zero'],
    code: 2,
    names: 'profile /dev/zero cannot be read',
    expected: 'a regular file of at most 1048576 bytes',
  },
  rawProfile('a FIFO', { fifo: true }, 'profile $D/profile.yaml cannot be read', /regular file/),
  rawProfile('above 1 MiB', TOO_BIG, 'profile $D/profile.yaml cannot be read', /at most 1048576 bytes/),
  {
    name: 'profile file: --profile with an empty value',
    argv: ['plan', '--profile', ''],
    code: 2,
    names: '--profile: no file named',
    expected: 'the path of a profile YAML file',
  },
  {
    name: 'profile file: --profile without its argument',
    argv: ['plan', '--profile'],
    code: 2,
    names: "option '--profile <file>' argument missing",
    usage: true,
  },
  // YAML syntax.
  rawProfile(
    'an unclosed flow sequence',
    'istio: [unclosed\n',
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile(
    'tabs as indentation',
    'istio:\n\tversion: 1.28.3\n',
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile(
    'a key twice',
    'kind: Profile\nkind: Profile\n',
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile(
    'two documents',
    'a: 1\n---\nb: 2\n',
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile(
    'a YAML alias bomb',
    ALIAS_BOMB,
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile(
    'a key longer than YAML allows',
    `${'k'.repeat(5000)}: 1\n`,
    'profile is not valid YAML: $D/profile.yaml',
    'a YAML document',
  ),
  rawProfile('an empty file', '', invalid('(root)'), 'a value of type object'),
  rawProfile('a scalar', 'hello\n', invalid('(root)'), 'a value of type object'),
  rawProfile('a list', '- a\n- b\n', invalid('(root)'), 'a value of type object'),
  {
    ...rawProfile(
      'a huge one-line profile',
      'y'.repeat(900_000),
      invalid('(root)'),
      'a value of type object',
    ),
    bounded: 1000,
  },
  rawProfile(
    'an alias inside its own anchor',
    'apiVersion: ambient-conformance/v1\nkind: Profile\nmetadata: &m {name: x, self: *m}\n',
    invalid('metadata.self'),
    'only the fields metadata knows: name, description',
  ),
  // Misspelt keys, at every level.
  profile(
    'a top-level sidecars key',
    (d) => (d.sidecars = true),
    'sidecars',
    /only the fields a profile knows/,
  ),
  profile('timeout for timeouts', (d) => (d.timeout = {}), 'timeout', /timeouts/),
  profile('metadata.nmae', (d) => (d.metadata.nmae = 'x'), 'metadata.nmae', /name, description/),
  profile('metadata.descripton', (d) => (d.metadata.descripton = 'x'), 'metadata.descripton', /description/),
  profile('istio.verison', (d) => (d.istio.verison = '1.28.3'), 'istio.verison', /version/),
  profile('istio.chartRepo', (d) => (d.istio.chartRepo = 'x'), 'istio.chartRepo', /chartRepository/),
  profile('istio.namespaces', (d) => (d.istio.namespaces = 'x'), 'istio.namespaces', /namespace/),
  profile('istio.release', (d) => (d.istio.release = []), 'istio.release', /releases/),
  profile(
    'istio.releases[0].chrt',
    (d) => (d.istio.releases[0].chrt = 'base'),
    'istio.releases[0].chrt',
    /chart/,
  ),
  profile(
    'istio.releases[3].value',
    (d) => (d.istio.releases[3].value = { resources: {} }),
    'istio.releases[3].value',
    'only the fields istio.releases[3] knows: name, chart, syncWave, valuesFile, values',
  ),
  profile(
    'istio.releases[1].valueFile',
    (d) => (d.istio.releases[1].valueFile = 'x'),
    'istio.releases[1].valueFile',
    /valuesFile/,
  ),
  profile(
    'istio.releases[2].syncwave',
    (d) => (d.istio.releases[2].syncwave = 1),
    'istio.releases[2].syncwave',
    /syncWave/,
  ),
  profile(
    'cluster.metricServer',
    (d) => (d.cluster.metricServer = false),
    'cluster.metricServer',
    /metricsServer/,
  ),
  profile(
    'cluster.kind.nodeimage',
    (d) => (d.cluster.kind.nodeimage = 'x'),
    'cluster.kind.nodeimage',
    /nodeImage/,
  ),
  profile(
    'cluster.kind.sidecars',
    (d) => (d.cluster.kind.sidecars = true),
    'cluster.kind.sidecars',
    'only the fields cluster.kind knows: config, nodeImage',
  ),
  profile(
    'mesh.meshedNamespace',
    (d) => (d.mesh.meshedNamespace = ['a']),
    'mesh.meshedNamespace',
    /meshedNamespaces/,
  ),
  profile(
    'mesh.controlNamespaces',
    (d) => (d.mesh.controlNamespaces = 'x'),
    'mesh.controlNamespaces',
    /controlNamespace/,
  ),
  profile('mesh.intent[0].too', (d) => (d.mesh.intent[0].too = ['loki']), 'mesh.intent[0].too', /from, to/),
  profile(
    'timeouts.helmInstal',
    (d) => (d.timeouts = { helmInstal: '5m' }),
    'timeouts.helmInstal',
    /helmInstall/,
  ),
  profile('budgets.istiod.mem', (d) => (d.budgets.istiod.mem = '1Mi'), 'budgets.istiod.mem', /cpu, memory/),
  profile(
    'budgets.istioCni',
    (d) => (d.budgets.istioCni = { cpu: '1m', memory: '1Mi' }),
    'budgets.istioCni',
    /istioCniNode/,
  ),
  profile(
    'budgets.ztunnelMemoryPerpod',
    (d) => (d.budgets.ztunnelMemoryPerpod = '1Mi'),
    'budgets.ztunnelMemoryPerpod',
    /ztunnelMemoryPerPod/,
  ),
  profile(
    'budgets.sidecarMesh.perSidecarMem',
    (d) =>
      (d.budgets.sidecarMesh = {
        perSidecarMemory: ['1Mi', '2Mi'],
        perSidecarMem: ['1Mi', '2Mi'],
        controlPlaneMemory: ['1Mi', '2Mi'],
      }),
    'budgets.sidecarMesh.perSidecarMem',
    /perSidecarMemory/,
  ),
  profile(
    'removal.allowedLeftover',
    (d) => (d.removal.allowedLeftover = []),
    'removal.allowedLeftover',
    /allowedLeftovers/,
  ),
  profile(
    'removal.allowedLeftovers[0].reasons',
    (d) => (d.removal.allowedLeftovers[0].reasons = 'x'),
    'removal.allowedLeftovers[0].reasons',
    /reason/,
  ),
  // Wrong types and values.
  profile(
    'apiVersion v2',
    (d) => (d.apiVersion = 'ambient-conformance/v2'),
    'apiVersion',
    '"ambient-conformance/v1"',
  ),
  profile('kind in lower case', (d) => (d.kind = 'profile'), 'kind', '"Profile"'),
  profile('no metadata', (d) => delete d.metadata, 'metadata', /type object/),
  profile(
    'metadata.name with capitals',
    (d) => (d.metadata.name = 'Homelab'),
    'metadata.name',
    /DNS-1123 label/,
  ),
  profile(
    'metadata.name of 64 characters',
    (d) => (d.metadata.name = 'a'.repeat(64)),
    'metadata.name',
    /at most 63/,
  ),
  profile(
    'metadata.description a number',
    (d) => (d.metadata.description = 5),
    'metadata.description',
    'a value of type string',
  ),
  profile(
    'istio.version a number',
    (d) => (d.istio.version = 128),
    'istio.version',
    'a value of type string',
  ),
  profile(
    'istio.version latest',
    (d) => (d.istio.version = 'latest'),
    'istio.version',
    /MAJOR\.MINOR\.PATCH such as 1\.28\.3/,
  ),
  profile('istio.version 1.28', (d) => (d.istio.version = '1.28'), 'istio.version', /MAJOR\.MINOR\.PATCH/),
  profile(
    'istio.version with leading zeros',
    (d) => (d.istio.version = '01.028.003'),
    'istio.version',
    /without leading zeros/,
  ),
  profile(
    'istio.version an rc of a patch',
    (d) => (d.istio.version = '1.28.3-rc.0'),
    'istio.version',
    /only on x\.y\.0/,
  ),
  profile(
    'istio.version 1.28.3-foo',
    (d) => (d.istio.version = '1.28.3-foo'),
    'istio.version',
    /-alpha\.N, -beta\.N, -rc\.N/,
  ),
  profile('istio.version empty', (d) => (d.istio.version = ''), 'istio.version', /MAJOR\.MINOR\.PATCH/),
  profile(
    'istio.version of an unknown minor',
    (d) => (d.istio.version = '1.99.0'),
    'istio.version',
    'a release of an Istio minor this tool knows: 1.28, 1.29, 1.30, 1.31',
  ),
  profile(
    'istio.chartRepository ftp://',
    (d) => (d.istio.chartRepository = 'ftp://example.com/charts'),
    'istio.chartRepository',
    /https:\/\/ Helm repository or an oci:\/\//,
  ),
  profile(
    'istio.chartRepository without a scheme',
    (d) => (d.istio.chartRepository = 'blob.istio.io/istio-release/charts'),
    'istio.chartRepository',
    /oci:\/\//,
  ),
  profile(
    'istio.chartRepository in capitals',
    (d) => (d.istio.chartRepository = 'HTTPS://blob.istio.io/charts'),
    'istio.chartRepository',
    /lowercase scheme/,
  ),
  {
    ...profile(
      'istio.chartRepository of 10,000 characters',
      (d) => (d.istio.chartRepository = `https://${'h'.repeat(10_000)}`),
      'istio.chartRepository',
      /at most 2048 characters/,
    ),
    bounded: 1000,
  },
  profile(
    'istio.namespace with an underscore',
    (d) => (d.istio.namespace = 'istio_system'),
    'istio.namespace',
    /DNS-1123 label/,
  ),
  profile('istio.releases empty', (d) => (d.istio.releases = []), 'istio.releases', /at least|>=|1/),
  profile(
    'istio.releases a mapping',
    (d) => (d.istio.releases = { base: {} }),
    'istio.releases',
    'a value of type array',
  ),
  profile(
    'istio.releases missing',
    (d) => delete d.istio.releases,
    'istio.releases',
    'a value of type array',
  ),
  profile(
    'a syncWave as a string',
    (d) => (d.istio.releases[0].syncWave = '-45'),
    'istio.releases[0].syncWave',
    'a value of type number',
  ),
  profile(
    'a fractional syncWave',
    (d) => (d.istio.releases[0].syncWave = -44.5),
    'istio.releases[0].syncWave',
    /int/,
  ),
  profile(
    'chart istio-cni (the chart is cni)',
    (d) => (d.istio.releases[2].chart = 'istio-cni'),
    'istio.releases[2].chart',
    'one of "base", "istiod", "cni", "ztunnel"',
  ),
  profile(
    'a chart twice',
    (d) => (d.istio.releases[2].chart = 'istiod'),
    'istio.releases[2].chart',
    'each chart once (already at istio.releases[1])',
  ),
  profile(
    'a release name twice',
    (d) => (d.istio.releases[2].name = 'istiod'),
    'istio.releases[2].name',
    /a release name used once \(already at istio\.releases\[1\]\)/,
  ),
  profile(
    'no ztunnel release',
    (d) => d.istio.releases.pop(),
    'istio.releases',
    'a release for each chart: base, istiod, cni, ztunnel',
  ),
  profile(
    'a release name of 54 characters',
    (d) => (d.istio.releases[3].name = 'z'.repeat(54)),
    'istio.releases[3].name',
    'a Helm release name of at most 53 characters',
  ),
  profile(
    'a release name with capitals',
    (d) => (d.istio.releases[3].name = 'Ztunnel'),
    'istio.releases[3].name',
    /Helm release name/,
  ),
  profile(
    'a release without a name',
    (d) => delete d.istio.releases[3].name,
    'istio.releases[3].name',
    'a value of type string',
  ),
  profile(
    'two releases in one wave',
    (d) => (d.istio.releases[3].syncWave = -43),
    'istio.releases[3].syncWave',
    /a wave of its own \(shared with istio\.releases\[2\]/,
  ),
  profile(
    'base not in the lowest wave',
    (d) => (d.istio.releases[0].syncWave = 10),
    'istio.releases[0].syncWave',
    /base chart .* in the lowest wave/,
  ),
  profile(
    'ztunnel before istiod',
    (d) => {
      d.istio.releases[3].syncWave = -44;
      d.istio.releases[1].syncWave = -42;
    },
    'istio.releases[3].syncWave',
    /a wave after the istiod release/,
  ),
  profile(
    'an empty valuesFile',
    (d) => (d.istio.releases[1].valuesFile = ''),
    'istio.releases[1].valuesFile',
    /a file path/,
  ),
  profile(
    'inline values a string',
    (d) => (d.istio.releases[3].values = 'resources: {}'),
    'istio.releases[3].values',
    /type record|type object/,
  ),
  profile(
    'inline values with an alias inside its own anchor',
    () => undefined,
    '',
    'Helm values without a YAML alias that contains itself',
    {
      names: invalid('istio.releases (ztunnel).values.a'),
      files: {
        'profile.yaml': profileYaml().replace(
          /- name: ztunnel\n(\s+)chart: ztunnel\n/,
          '- name: ztunnel\n$1chart: ztunnel\n$1values: &v { a: [*v] }\n',
        ),
      },
    },
  ),
  profile(
    'cluster.metricsServer "yes"',
    (d) => (d.cluster.metricsServer = 'yes'),
    'cluster.metricsServer',
    'a value of type boolean',
  ),
  profile('no cluster.kind', (d) => delete d.cluster.kind, 'cluster.kind', 'a value of type object'),
  profile(
    'a node image without a digest',
    (d) => (d.cluster.kind.nodeImage = 'kindest/node:v1.34.0'),
    'cluster.kind.nodeImage',
    /pinned by digest/,
  ),
  profile(
    'a node image with a short digest',
    (d) => (d.cluster.kind.nodeImage = `kindest/node:v1.34.0@sha256:${'a'.repeat(63)}`),
    'cluster.kind.nodeImage',
    /<64 hex>/,
  ),
  profile(
    'a node image with capitals in the path',
    (d) => (d.cluster.kind.nodeImage = `kindest/Node:v1.34.0@sha256:${DIGEST}`),
    'cluster.kind.nodeImage',
    /pinned by digest/,
  ),
  profile(
    'a node image tag without v',
    (d) => (d.cluster.kind.nodeImage = `kindest/node:1.34.0@sha256:${DIGEST}`),
    'cluster.kind.nodeImage',
    /v<Kubernetes version>/,
  ),
  profile(
    'a node image with a port that is no number',
    (d) => (d.cluster.kind.nodeImage = `localhost:port/kindest/node:v1.34.0@sha256:${DIGEST}`),
    'cluster.kind.nodeImage',
    /\[registry\[:port\]\/\]/,
  ),
  profile(
    'a node image of Kubernetes 1.36 for Istio 1.28',
    (d) => (d.cluster.kind.nodeImage = `kindest/node:v1.36.1@sha256:${DIGEST}`),
    'cluster.kind.nodeImage',
    'a Kubernetes version Istio 1.28 supports (1.30-1.34)',
  ),
  profile(
    'a node image of Kubernetes 2.34',
    (d) => (d.cluster.kind.nodeImage = `kindest/node:v2.34.0@sha256:${DIGEST}`),
    'cluster.kind.nodeImage',
    /Istio 1\.28 supports/,
  ),
  {
    ...profile(
      'a node image of 600 characters',
      (d) => (d.cluster.kind.nodeImage = `kindest/${'n'.repeat(600)}:v1.34.0@sha256:${DIGEST}`),
      'cluster.kind.nodeImage',
      /pinned by digest/,
    ),
    bounded: 2000,
  },
  profile(
    'a kind config that does not exist',
    (d) => (d.cluster.kind.config = 'nope.yaml'),
    '',
    /an existing, readable file/,
    {
      names: 'kind cluster config not found: $D/nope.yaml',
    },
  ),
  profile('a kind config that is a folder', (d) => (d.cluster.kind.config = 'cfg'), '', /regular file/, {
    names: 'kind cluster config $D/cfg cannot be read',
    files: { cfg: { dir: true } },
  }),
  profile(
    'a kind config that is not YAML',
    (d) => (d.cluster.kind.config = 'kind.yaml'),
    '',
    'a YAML document',
    {
      names: 'kind cluster config is not valid YAML: $D/kind.yaml',
      files: { 'kind.yaml': 'nodes: [\n' },
    },
  ),
  profile(
    'a kind config of another kind',
    (d) => (d.cluster.kind.config = 'kind.yaml'),
    '',
    'kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4',
    {
      names: invalid('(root)', '$D/kind.yaml'),
      files: { 'kind.yaml': 'kind: Config\napiVersion: v1\n' },
    },
  ),
  profile(
    'a kind config without a control-plane node',
    (d) => (d.cluster.kind.config = 'kind.yaml'),
    '',
    'at least one control-plane node',
    {
      names: invalid('nodes', '$D/kind.yaml'),
      files: { 'kind.yaml': 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [{role: worker}]\n' },
    },
  ),
  profile(
    'a kind config above 1 MiB',
    (d) => (d.cluster.kind.config = 'kind.yaml'),
    '',
    /at most 1048576 bytes/,
    {
      names: 'kind cluster config $D/kind.yaml cannot be read',
      files: { 'kind.yaml': TOO_BIG },
    },
  ),
  profile(
    'no meshed namespace',
    (d) => (d.mesh.meshedNamespaces = []),
    'mesh.meshedNamespaces',
    /at least|>=|1/,
  ),
  profile(
    'a meshed namespace with capitals',
    (d) => (d.mesh.meshedNamespaces[0] = 'Default'),
    'mesh.meshedNamespaces[0]',
    /DNS-1123 label/,
  ),
  profile(
    'kube-system meshed',
    (d) => d.mesh.meshedNamespaces.push('kube-system'),
    'mesh.meshedNamespaces[6]',
    /excludeNamespaces \(kube-system\)/,
  ),
  profile(
    'kube-public meshed',
    (d) => d.mesh.meshedNamespaces.push('kube-public'),
    'mesh.meshedNamespaces[6]',
    /not a system namespace/,
  ),
  profile(
    'local-path-storage meshed',
    (d) => d.mesh.meshedNamespaces.push('local-path-storage'),
    'mesh.meshedNamespaces[6]',
    /not a system namespace/,
  ),
  profile(
    'the Istio namespace meshed',
    (d) => d.mesh.meshedNamespaces.push('istio-system'),
    'mesh.meshedNamespaces[6]',
    'not the Istio namespace (istio-system)',
  ),
  profile(
    'a meshed namespace twice',
    (d) => d.mesh.meshedNamespaces.push('loki'),
    'mesh.meshedNamespaces[6]',
    'each namespace once (already at mesh.meshedNamespaces[1])',
  ),
  profile(
    'the control namespace meshed',
    (d) => (d.mesh.controlNamespace = 'loki'),
    'mesh.controlNamespace',
    'a namespace that is not meshed (it is mesh.meshedNamespaces[1])',
  ),
  profile(
    'the control namespace istio-system',
    (d) => (d.mesh.controlNamespace = 'istio-system'),
    'mesh.controlNamespace',
    /a namespace of its own/,
  ),
  profile(
    'the control namespace kube-node-lease',
    (d) => (d.mesh.controlNamespace = 'kube-node-lease'),
    'mesh.controlNamespace',
    /a namespace of its own/,
  ),
  profile(
    'no control namespace',
    (d) => delete d.mesh.controlNamespace,
    'mesh.controlNamespace',
    'a value of type string',
  ),
  profile(
    'an intent from a namespace that is not meshed',
    (d) => (d.mesh.intent[0].from = 'plaintext'),
    'mesh.intent[0]',
    /namespaces from mesh\.meshedNamespaces/,
  ),
  profile('an intent to nothing', (d) => (d.mesh.intent[0].to = []), 'mesh.intent[0].to', /at least|>=|1/),
  profile(
    'timeouts.helmInstall "soon"',
    (d) => (d.timeouts = { helmInstall: 'soon' }),
    'timeouts.helmInstall',
    /a duration above 0 and at most 24h/,
  ),
  profile('timeouts.helmInstall 0', (d) => (d.timeouts = { helmInstall: 0 }), 'timeouts.helmInstall', /zero/),
  profile(
    'timeouts.podReady 25h',
    (d) => (d.timeouts = { podReady: '25h' }),
    'timeouts.podReady',
    /longer than 24h/,
  ),
  profile('timeouts.probe -5', (d) => (d.timeouts = { probe: -5 }), 'timeouts.probe', /a duration above 0/),
  profile('timeouts.exec 1e9', (d) => (d.timeouts = { exec: '1e9' }), 'timeouts.exec', /a duration above 0/),
  profile('timeouts as a list', (d) => (d.timeouts = ['5m']), 'timeouts', /type record|type object/),
  profile(
    'budgets.istiod.cpu "lots"',
    (d) => (d.budgets.istiod.cpu = 'lots'),
    'budgets.istiod.cpu',
    'a CPU quantity such as 50m or 0.2',
  ),
  profile(
    'budgets.ztunnel.memory 12XB',
    (d) => (d.budgets.ztunnel.memory = '12XB'),
    'budgets.ztunnel.memory',
    'a memory quantity such as 128Mi',
  ),
  profile('no budgets.istiod', (d) => delete d.budgets.istiod, 'budgets.istiod', 'a value of type object'),
  profile(
    'budgets.ztunnelMemoryPerPod "x"',
    (d) => (d.budgets.ztunnelMemoryPerPod = 'x'),
    'budgets.ztunnelMemoryPerPod',
    'a memory quantity such as 128Mi',
  ),
  profile(
    'a sidecar-mesh range high before low',
    (d) =>
      (d.budgets.sidecarMesh = { perSidecarMemory: ['15Mi', '10Mi'], controlPlaneMemory: ['1Mi', '2Mi'] }),
    'budgets.sidecarMesh.perSidecarMemory',
    /\[low, high\]/,
  ),
  profile(
    'a leftover with an empty kind',
    (d) => (d.removal.allowedLeftovers[0].kind = ''),
    'removal.allowedLeftovers[0].kind',
    /.+/,
  ),
  profile(
    'allowedLeftovers a string',
    (d) => (d.removal.allowedLeftovers = '*.istio.io'),
    'removal.allowedLeftovers',
    'a value of type array',
  ),
  // Types and shapes, by kind of value.
  profile(
    'istio.chartRepository a number',
    (d) => (d.istio.chartRepository = 5),
    'istio.chartRepository',
    'a value of type string',
  ),
  profile(
    'mesh.meshedNamespaces a string',
    (d) => (d.mesh.meshedNamespaces = 'loki'),
    'mesh.meshedNamespaces',
    'a value of type array',
  ),
  profile(
    'cluster.kind.nodeImage a number',
    (d) => (d.cluster.kind.nodeImage = 1.34),
    'cluster.kind.nodeImage',
    'a value of type string',
  ),
  profile(
    'a sidecar-mesh range of one',
    (d) => (d.budgets.sidecarMesh = { perSidecarMemory: ['1Mi'], controlPlaneMemory: ['1Mi', '2Mi'] }),
    'budgets.sidecarMesh.perSidecarMemory',
    />=2 items/,
  ),
  profile(
    'a leftover without a reason',
    (d) => delete d.removal.allowedLeftovers[0].reason,
    'removal.allowedLeftovers[0].reason',
    'a value of type string',
  ),
  profile('timeouts: null', (d) => (d.timeouts = null), 'timeouts', 'a value of type record'),
  profile(
    'a release that is a string',
    (d) => (d.istio.releases[0] = 'base'),
    'istio.releases[0]',
    'a value of type object',
  ),
  profile(
    'a null release',
    (d) => d.istio.releases.push(null),
    'istio.releases[4]',
    'a value of type object',
  ),
  profile(
    'a syncWave of 1e30',
    (d) => (d.istio.releases[3].syncWave = 1e30),
    'istio.releases[3].syncWave',
    /<=9007199254740991/,
  ),
  profile(
    'cluster.metricsServer: null',
    (d) => (d.cluster.metricsServer = null),
    'cluster.metricsServer',
    'a value of type boolean',
  ),
  profile(
    'an intent without from',
    (d) => delete d.mesh.intent[0].from,
    'mesh.intent[0].from',
    'a value of type string',
  ),
  profile(
    'inline values: null',
    (d) => (d.istio.releases[3].values = null),
    'istio.releases[3].values',
    'a value of type record',
  ),
  profile(
    'a valuesFile that is a number',
    (d) => (d.istio.releases[3].valuesFile = 5),
    'istio.releases[3].valuesFile',
    'a value of type string',
  ),
  profile('istio.namespace empty', (d) => (d.istio.namespace = ''), 'istio.namespace', /DNS-1123 label/),
  profile(
    'mesh.controlNamespace: null',
    (d) => (d.mesh.controlNamespace = null),
    'mesh.controlNamespace',
    'a value of type string',
  ),
  profile(
    'a kind config in a folder that does not exist',
    (d) => (d.cluster.kind.config = '/nonexistent/dir/kind.yaml'),
    '',
    'an existing, readable file',
    {
      names: 'kind cluster config not found: /nonexistent/dir/kind.yaml',
    },
  ),
  profile(
    'an empty kind config',
    (d) => (d.cluster.kind.config = 'kind.yaml'),
    '',
    'kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4',
    {
      names: invalid('(root)', '$D/kind.yaml'),
      files: { 'kind.yaml': '' },
    },
  ),
  // Istio's retired hosts: versions never published there.
  profile(
    'Istio 1.31 from the retired Helm repository',
    (d) => {
      d.istio.version = '1.31.1';
      d.istio.chartRepository = 'https://istio-release.storage.googleapis.com/charts';
    },
    'istio.chartRepository',
    /https:\/\/blob\.istio\.io\/istio-release\/charts/,
  ),
  profile(
    'Istio 1.31 from the retired OCI registry',
    (d) => {
      d.istio.version = '1.31.1';
      d.istio.chartRepository = 'oci://gcr.io/istio-release/charts';
    },
    'istio.chartRepository',
    /oci:\/\/ghcr\.io\/istio\/release\/charts/,
  ),
  // The same profile mistakes through run and doctor.
  profile(
    'run with a misspelt key',
    (d) => (d.cluster.metricServer = false),
    'cluster.metricServer',
    /metricsServer/,
    { command: 'run' },
  ),
  profile(
    'doctor with a bad version',
    (d) => (d.istio.version = 'latest'),
    'istio.version',
    /MAJOR\.MINOR\.PATCH/,
    { command: 'doctor' },
  ),
  {
    ...profile(
      'plan -v with a bad node image',
      (d) => (d.cluster.kind.nodeImage = 'x'),
      'cluster.kind.nodeImage',
      /pinned by digest/,
    ),
    argv: ['plan', '-v', '--profile', PROFILE],
  },
];

const VALUES_CASES: BadInput[] = [
  profile(
    'a values file that does not exist',
    (d) => (d.istio.releases[1].valuesFile = 'nope.yaml'),
    '',
    'an existing, readable file',
    {
      names: 'values file of release istiod not found: $D/nope.yaml',
    },
  ),
  profile(
    'a values file that is /dev/zero',
    (d) => (d.istio.releases[1].valuesFile = '/dev/zero'),
    '',
    /regular file of at most 1048576 bytes/,
    {
      names: 'values file of release istiod /dev/zero cannot be read',
    },
  ),
  values(
    'an empty istiod values file (no profile: ambient)',
    { 'istiod-values.yaml': '' },
    invalid('values of release istiod (chart istiod): env.PILOT_ENABLE_AMBIENT', '$D/istiod-values.yaml'),
    /ambient switched on/,
  ),
  values(
    'a values file above 1 MiB',
    { 'cni-values.yaml': TOO_BIG },
    'values file of release istio-cni $D/cni-values.yaml cannot be read',
    /1048576/,
  ),
  values(
    'a values file that is not YAML',
    { 'ztunnel-values.yaml': 'resources: [\n' },
    'values file of release ztunnel is not valid YAML: $D/ztunnel-values.yaml',
    'a YAML document',
  ),
  values(
    'a values file that is a list',
    { 'ztunnel-values.yaml': '- a\n' },
    invalid('(root)', '$D/ztunnel-values.yaml'),
    'a YAML mapping of Helm values',
  ),
  values(
    'a values file with an alias inside its own anchor',
    { 'ztunnel-values.yaml': 'a: &a [*a]\n' },
    invalid('a', '$D/ztunnel-values.yaml'),
    'Helm values without a YAML alias that contains itself',
  ),
  values(
    'a values file with an alias bomb',
    { 'ztunnel-values.yaml': ALIAS_BOMB },
    'values file of release ztunnel is not valid YAML: $D/ztunnel-values.yaml',
    'a YAML document',
  ),
  values(
    'istiod values without profile: ambient',
    { 'istiod-values.yaml': 'replicaCount: 1\n' },
    invalid('values of release istiod (chart istiod): env.PILOT_ENABLE_AMBIENT', '$D/istiod-values.yaml'),
    /ambient switched on: profile: ambient/,
  ),
  values(
    'cni values that switch ambient off',
    { 'cni-values.yaml': 'profile: ambient\ncni:\n  ambient:\n    enabled: false\n' },
    invalid('values of release istio-cni (chart cni): ambient.enabled', '$D/cni-values.yaml'),
    /ambient switched on/,
  ),
  values(
    'global.platform: kind',
    { 'cni-values.yaml': 'profile: ambient\nglobal:\n  platform: kind\n' },
    invalid('values of release istio-cni: global.platform', '$D/cni-values.yaml'),
    /no platform for kind/,
  ),
  values(
    'cni excludeNamespaces that exclude a meshed namespace',
    { 'cni-values.yaml': 'profile: ambient\ncni:\n  excludeNamespaces: [kube-system, loki]\n' },
    invalid('mesh.meshedNamespaces[1]'),
    /excludeNamespaces \(kube-system, loki\)/,
  ),
  {
    ...profile(
      'Istio 1.31 through registry.istio.io/release',
      (d) => (d.istio.version = '1.31.1'),
      '',
      /docker\.io\/istio/,
      {
        names: invalid('global.hub', '$D/ztunnel-values.yaml'),
        files: { 'ztunnel-values.yaml': 'global:\n  hub: registry.istio.io/release\n' },
      },
    ),
  },
];

// ---------------------------------------------------------------------------------------------
// flags

const FLAG_CASES: BadInput[] = [
  // run and plan
  {
    name: 'plan: an unknown option',
    argv: ['plan', '--frobnicate'],
    code: 2,
    names: "unknown option '--frobnicate'",
    usage: true,
  },
  {
    name: 'run: an unknown option',
    argv: ['run', '--frobnicate'],
    code: 2,
    names: "unknown option '--frobnicate'",
    usage: true,
  },
  {
    name: 'plan: a value for a switch',
    argv: ['plan', '--verbose=yes'],
    code: 2,
    names: "unknown option '--verbose=yes'",
    usage: true,
  },
  {
    name: 'plan: an extra argument',
    argv: ['plan', 'extra'],
    code: 2,
    names: "too many arguments for 'plan'",
    usage: true,
    expected: /Expected 0 arguments/,
  },
  {
    name: 'run: --istio-version without its argument',
    argv: ['run', '--istio-version'],
    code: 2,
    names: "option '--istio-version <version>' argument missing",
    usage: true,
  },
  {
    name: 'plan: --istio-version empty',
    argv: ['plan', '--istio-version', ''],
    code: 2,
    names: '--istio-version "" is not an Istio version',
    expected: /MAJOR\.MINOR\.PATCH/,
  },
  {
    name: 'plan: --istio-version latest',
    argv: ['plan', '--istio-version', 'latest'],
    code: 2,
    names: '--istio-version "latest" is not an Istio version',
    expected: /MAJOR\.MINOR\.PATCH/,
  },
  {
    name: 'plan: --istio-version 1.31',
    argv: ['plan', '--istio-version', '1.31'],
    code: 2,
    names: '--istio-version "1.31" is not an Istio version',
    expected: /MAJOR\.MINOR\.PATCH/,
  },
  {
    name: 'plan: --istio-version v1.28.3',
    argv: ['plan', '--istio-version', 'v1.28.3'],
    code: 2,
    names: '--istio-version "v1.28.3"',
    expected: /MAJOR\.MINOR\.PATCH/,
  },
  {
    name: 'run: --istio-version of an unknown minor',
    argv: ['run', '--istio-version', '1.99.0', '--reports-dir', '$D/r'],
    code: 2,
    names: '--istio-version "1.99.0" is not an Istio version this tool knows',
    expected: /1\.28, 1\.29, 1\.30, 1\.31/,
  },
  {
    name: 'plan: --istio-version 1.28.3-foo',
    argv: ['plan', '--istio-version', '1.28.3-foo'],
    code: 2,
    names: '--istio-version "1.28.3-foo"',
    expected: /-rc\.N/,
  },
  {
    name: 'plan: --istio-version of 5,000 characters',
    argv: ['plan', '--istio-version', '1'.repeat(5000)],
    code: 2,
    names: '--istio-version "1111',
    expected: /MAJOR\.MINOR\.PATCH/,
    bounded: 1500,
  },
  {
    name: 'plan: --cluster-name empty',
    argv: ['plan', '--cluster-name', ''],
    code: 2,
    names: '--cluster-name "" is not a valid kind cluster name',
    expected: /at most 50 lowercase letters/,
  },
  {
    name: 'plan: --cluster-name with capitals',
    argv: ['plan', '--cluster-name', 'Bad_Name'],
    code: 2,
    names: '--cluster-name "Bad_Name"',
    expected: /at most 50 lowercase letters/,
  },
  {
    name: 'plan: --cluster-name of 51 characters',
    argv: ['plan', '--cluster-name', 'a'.repeat(51)],
    code: 2,
    names: '--cluster-name "aaaa',
    expected: /at most 50/,
  },
  {
    name: 'plan: --cluster-name starting with "-"',
    argv: ['plan', '--cluster-name', '-a'],
    code: 2,
    names: '--cluster-name "-a"',
    expected: /starting and ending with a letter or digit/,
  },
  {
    name: 'plan: --cluster-name with ".."',
    argv: ['plan', '--cluster-name', 'a..b'],
    code: 2,
    names: '--cluster-name "a..b"',
    expected: /kind v0\.30\.0 rules/,
  },
  {
    name: 'run: --reuse without --cluster-name',
    argv: ['run', '--reuse', '--reports-dir', '$D/r'],
    code: 2,
    names: '--reuse needs --cluster-name',
    expected: /a kind cluster this tool kept/,
  },
  {
    name: 'plan: --reuse with --context',
    argv: ['plan', '--reuse', '--context', 'x'],
    code: 2,
    names: '--reuse cannot be combined with --kubeconfig/--context',
    expected: /--reuse for a kind cluster this tool created/,
  },
  {
    name: 'plan: --reuse with --kubeconfig',
    argv: ['plan', '--reuse', '--cluster-name', 'x', '--kubeconfig', '$D/kc'],
    files: { kc: KUBECONFIG_GOOD },
    code: 2,
    names: '--reuse cannot be combined',
    expected: /--kubeconfig\/--context for any other cluster/,
  },
  {
    name: 'run: --use-existing-istio alone',
    argv: ['run', '--use-existing-istio', '--reports-dir', '$D/r'],
    code: 2,
    names: '--use-existing-istio needs --kubeconfig or --context',
    expected: 'an existing cluster to test as it is',
  },
  {
    name: 'plan: --cluster-name with --context',
    argv: ['plan', '--cluster-name', 'x', '--context', 'staging'],
    code: 2,
    names: '--cluster-name applies to kind clusters only',
    expected: /with a kind run/,
  },
  {
    name: 'plan: --kubeconfig empty',
    argv: ['plan', '--kubeconfig', ''],
    code: 2,
    names: '--kubeconfig: an empty value',
    expected: 'the path of a kubeconfig file',
  },
  {
    name: 'plan: --context empty',
    argv: ['plan', '--context', ''],
    code: 2,
    names: '--context: an empty value',
    expected: /a context name from the kubeconfig/,
  },
  {
    name: 'plan: --kubeconfig that does not exist',
    argv: ['plan', '--kubeconfig', '$D/nope'],
    code: 2,
    names: 'kubeconfig not found: $D/nope',
    expected: 'a readable kubeconfig file',
  },
  {
    name: 'plan: --kubeconfig a folder',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: { dir: true } },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig empty file',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: '' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig binary',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]) },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig not YAML',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: 'key: [unclosed\n' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig without contexts',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: 'apiVersion: v1\nkind: Config\n' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig /dev/zero',
    argv: ['plan', '--kubeconfig', '/dev/zero'],
    code: 2,
    names: 'kubeconfig /dev/zero is not usable',
    expected: KC_EXPECTED,
  },
  {
    name: 'plan: --kubeconfig without current-context nor --context',
    argv: ['plan', '--kubeconfig', '$D/kc'],
    files: { kc: KUBECONFIG_NO_CURRENT },
    code: 2,
    names: 'kubeconfig $D/kc names no current context',
    expected: '--context with one of: staging',
  },
  {
    name: 'plan: a --context the kubeconfig does not define',
    argv: ['plan', '--kubeconfig', '$D/kc', '--context', 'prod'],
    files: { kc: KUBECONFIG_GOOD },
    code: 2,
    names: 'context prod is not in kubeconfig $D/kc',
    expected: 'one of: staging',
  },
  {
    name: 'plan: --only empty',
    argv: ['plan', '--only', ''],
    code: 2,
    names: "option '--only <ids>' argument '' is invalid",
    usage: true,
    expected: /expected test IDs or SUITE-\* prefixes/,
  },
  {
    name: 'plan: --only ","',
    argv: ['plan', '--only', ','],
    code: 2,
    names: "option '--only <ids>' argument ',' is invalid",
    usage: true,
    expected: /expected test IDs/,
  },
  {
    name: 'plan: --skip empty',
    argv: ['plan', '--skip', ' '],
    code: 2,
    names: "option '--skip <ids>' argument ' ' is invalid",
    usage: true,
    expected: /expected test IDs/,
  },
  {
    name: 'plan: --only an unknown ID',
    argv: ['plan', '--only', 'INSTALL-99'],
    code: 2,
    names: '--only INSTALL-99: no such conformance test',
    expected: /a test ID or SUITE-\* prefix from the catalog/,
  },
  {
    name: 'plan: --only an ID in lower case',
    argv: ['plan', '--only', 'install-01'],
    code: 2,
    names: '--only install-01: no such conformance test',
    expected: /INSTALL-01/,
  },
  {
    name: 'plan: --only repeated, the second unknown',
    argv: ['plan', '--only', 'INSTALL-01', '--only', 'INSTALL-99'],
    code: 2,
    names: '--only INSTALL-99',
    expected: /from the catalog/,
  },
  {
    name: 'run: --skip an unknown prefix',
    argv: ['run', '--skip', 'NOPE-*', '--reports-dir', '$D/r'],
    code: 2,
    names: '--skip NOPE-*: no such conformance test',
    expected: /SUITE-\* prefix/,
  },
  {
    name: 'plan: an ID in both --only and --skip',
    argv: ['plan', '--only', 'INSTALL-01', '--skip', 'INSTALL-01'],
    code: 2,
    names: 'INSTALL-01 given to both --only and --skip',
    expected: 'each test ID or prefix in one of --only and --skip',
  },
  {
    name: 'plan: --reports-dir empty',
    argv: ['plan', '--reports-dir', ''],
    code: 2,
    names: '--reports-dir: an empty value',
    expected: 'the path of a folder for the run folders',
  },
  {
    name: 'plan: --reports-dir a file',
    argv: ['plan', '--reports-dir', '$D/f'],
    files: { f: 'x' },
    code: 2,
    names: '--reports-dir $D/f is not a folder this run can write to',
    expected: /an existing writable folder/,
  },
  {
    name: 'run: --reports-dir under a file',
    argv: ['run', '--reports-dir', '$D/f/sub'],
    files: { f: 'x' },
    code: 2,
    names: '--reports-dir $D/f/sub',
    expected: /an existing writable folder/,
  },
  {
    name: 'plan: --reports-dir under /proc',
    argv: ['plan', '--reports-dir', '/proc/reports'],
    code: 2,
    names: '--reports-dir /proc/reports',
    expected: /an existing writable folder/,
  },
  {
    name: 'plan: --reports-dir under /sys',
    argv: ['plan', '--reports-dir', '/sys/fs'],
    code: 2,
    names: '--reports-dir /sys/fs',
    expected: /an existing writable folder/,
  },
  {
    name: 'plan: --reports-dir under /dev',
    argv: ['plan', '--reports-dir', '/dev/shm/reports'],
    code: 2,
    names: '--reports-dir /dev/shm/reports',
    expected: /an existing writable folder/,
  },
  {
    name: 'run: a value for --keep',
    argv: ['run', '--keep=1'],
    code: 2,
    names: "unknown option '--keep=1'",
    usage: true,
  },
  {
    name: 'run: a value for --keep-on-failure',
    argv: ['run', '--keep-on-failure=true'],
    code: 2,
    names: "unknown option '--keep-on-failure=true'",
    usage: true,
  },
  {
    name: 'run: a value for --destructive',
    argv: ['run', '--destructive=yes'],
    code: 2,
    names: "unknown option '--destructive=yes'",
    usage: true,
  },
  {
    name: 'run: a value for --reuse',
    argv: ['run', '--reuse=ambient-conformance-1a2b'],
    code: 2,
    names: "unknown option '--reuse=ambient-conformance-1a2b'",
    usage: true,
  },
  {
    name: 'run: a value for --use-existing-istio',
    argv: ['run', '--use-existing-istio=1'],
    code: 2,
    names: "unknown option '--use-existing-istio=1'",
    usage: true,
  },
  {
    name: 'plan: a value for --json',
    argv: ['plan', '--json=false'],
    code: 2,
    names: "unknown option '--json=false'",
    usage: true,
  },
  {
    name: 'run: --json (plan only)',
    argv: ['run', '--json'],
    code: 2,
    names: "unknown option '--json'",
    usage: true,
  },
  {
    name: 'plan: --reports-dir without its argument',
    argv: ['plan', '--reports-dir'],
    code: 2,
    names: "option '--reports-dir <dir>' argument missing",
    usage: true,
  },
  {
    name: 'plan: --only without its argument',
    argv: ['plan', '--only'],
    code: 2,
    names: "option '--only <ids>' argument missing",
    usage: true,
  },
  {
    name: 'run: --cluster-name without its argument',
    argv: ['run', '--cluster-name'],
    code: 2,
    names: "option '--cluster-name <name>' argument missing",
    usage: true,
  },
  {
    name: 'plan: --context without its argument',
    argv: ['plan', '--context'],
    code: 2,
    names: "option '--context <name>' argument missing",
    usage: true,
  },
  // doctor
  {
    name: 'doctor: an unknown option',
    argv: ['doctor', '--frobnicate'],
    code: 2,
    names: "unknown option '--frobnicate'",
    usage: true,
  },
  {
    name: 'doctor: an extra argument',
    argv: ['doctor', 'now'],
    code: 2,
    names: "too many arguments for 'doctor'",
    usage: true,
  },
  {
    name: 'doctor: --profile without its argument',
    argv: ['doctor', '--profile'],
    code: 2,
    names: "option '--profile <file>' argument missing",
    usage: true,
  },
  {
    name: 'doctor: --profile empty',
    argv: ['doctor', '--profile', ''],
    code: 2,
    names: '--profile: no file named',
    expected: 'the path of a profile YAML file',
  },
  {
    name: 'doctor: --profile that does not exist',
    argv: ['doctor', '--profile', '$D/nope.yaml'],
    code: 2,
    names: 'profile not found: $D/nope.yaml',
    expected: 'an existing, readable file',
  },
  {
    name: 'doctor: --profile a folder',
    argv: ['doctor', '--profile', '$D'],
    code: 2,
    names: 'profile $D cannot be read',
    expected: /regular file/,
  },
  {
    name: 'doctor: a value for --json',
    argv: ['doctor', '--json=1'],
    code: 2,
    names: "unknown option '--json=1'",
    usage: true,
  },
  {
    name: 'doctor: --context without its argument',
    argv: ['doctor', '--context'],
    code: 2,
    names: "option '--context <name>' argument missing",
    usage: true,
  },
  // list
  {
    name: 'list: an unknown option',
    argv: ['list', '--frobnicate'],
    code: 2,
    names: "unknown option '--frobnicate'",
    usage: true,
  },
  {
    name: 'list: a value for --json',
    argv: ['list', '--json=1'],
    code: 2,
    names: "unknown option '--json=1'",
    usage: true,
    expected: /Did you mean --json\?/,
  },
  {
    name: 'list: an extra argument',
    argv: ['list', 'INSTALL-01'],
    code: 2,
    names: "too many arguments for 'list'",
    usage: true,
  },
  // clean
  {
    name: 'clean: an unknown option',
    argv: ['clean', '--force'],
    code: 2,
    names: "unknown option '--force'",
    usage: true,
  },
  {
    name: 'clean: an extra argument',
    argv: ['clean', 'run-1'],
    code: 2,
    names: "too many arguments for 'clean'",
    usage: true,
  },
  {
    name: 'clean: --kubeconfig without its argument',
    argv: ['clean', '--kubeconfig'],
    code: 2,
    names: "option '--kubeconfig <file>' argument missing",
    usage: true,
  },
  {
    name: 'clean: --kubeconfig that does not exist',
    argv: ['clean', '--kubeconfig', '$D/nope'],
    code: 2,
    names: 'kubeconfig $D/nope is not usable',
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: --kubeconfig a folder',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: { dir: true } },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: --kubeconfig empty file',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: '' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: --kubeconfig not YAML',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: '{{{{' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: --kubeconfig without contexts',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: 'apiVersion: v1\nkind: Config\ncontexts: []\n' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: --kubeconfig without current-context',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: KUBECONFIG_NO_CURRENT },
    code: 2,
    names: 'kubeconfig $D/kc names no current context',
    expected: '--context with one of: staging',
  },
  {
    name: 'clean: a --context the kubeconfig does not define',
    argv: ['clean', '--kubeconfig', '$D/kc', '--context', 'prod'],
    files: { kc: KUBECONFIG_GOOD },
    code: 2,
    names: 'context prod is not in kubeconfig $D/kc',
    expected: 'one of: staging',
  },
  {
    name: 'clean: an API server that does not answer (exit 3)',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: KUBECONFIG_GOOD },
    code: 3,
    names: 'the cluster API at https://127.0.0.1:9 does not answer',
    expected: /an API server reachable with \S+\/kc/,
  },
  {
    name: 'run: an API server that does not answer (exit 3, after preflight)',
    argv: ['run', '--kubeconfig', '$D/kc', '--reports-dir', '$D/reports'],
    files: { kc: KUBECONFIG_GOOD },
    code: 3,
    names: 'the cluster API at https://127.0.0.1:9 does not answer',
    expected: /an API server reachable with \S+\/kc/,
    spawns: true,
  },
  {
    name: 'clean: a value for --yes',
    argv: ['clean', '--yes=1'],
    code: 2,
    names: "unknown option '--yes=1'",
    usage: true,
  },
  {
    name: 'clean: a value for --include-kept',
    argv: ['clean', '--include-kept=true'],
    code: 2,
    names: "unknown option '--include-kept=true'",
    usage: true,
  },
  {
    name: 'clean: a value for --json',
    argv: ['clean', '--json=1'],
    code: 2,
    names: "unknown option '--json=1'",
    usage: true,
  },
  {
    name: 'clean: --context without its argument',
    argv: ['clean', '--context'],
    code: 2,
    names: "option '--context <name>' argument missing",
    usage: true,
  },
  // netpol matrix
  {
    name: 'netpol matrix: no -f',
    argv: ['netpol', 'matrix'],
    code: 2,
    names: "required option '-f, --file <path>' not specified",
    usage: true,
  },
  {
    name: 'netpol matrix: -f without its argument',
    argv: ['netpol', 'matrix', '-f'],
    code: 2,
    names: "option '-f, --file <path>' argument missing",
    usage: true,
  },
  {
    name: 'netpol matrix: an unknown option',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--yaml'],
    code: 2,
    names: "unknown option '--yaml'",
    usage: true,
  },
  {
    name: 'netpol matrix: --port without its argument',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port'],
    code: 2,
    names: "option '--port <n>' argument missing",
    usage: true,
  },
  {
    name: 'netpol matrix: --port http',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', 'http'],
    code: 2,
    names: '--port http is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port 0',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '0'],
    code: 2,
    names: '--port 0 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port 65536',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '65536'],
    code: 2,
    names: '--port 65536 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port -1',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port=-1'],
    code: 2,
    names: '--port -1 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port 1.5',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '1.5'],
    code: 2,
    names: '--port 1.5 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port 0x50',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '0x50'],
    code: 2,
    names: '--port 0x50 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: --port 1e3',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '1e3'],
    code: 2,
    names: '--port 1e3 is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: a good --port then a bad one',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--port', '80', '--port', '3100/TCP'],
    code: 2,
    names: '--port 3100/TCP is not a port',
    expected: 'an integer from 1 to 65535',
  },
  {
    name: 'netpol matrix: -f that does not exist',
    argv: ['netpol', 'matrix', '-f', '$D/nope.yaml'],
    code: 2,
    names: 'no such file or directory: $D/nope.yaml',
    expected: 'a manifest file or a folder of them',
  },
  {
    name: 'netpol matrix: -f /dev/zero',
    argv: ['netpol', 'matrix', '-f', '/dev/zero'],
    code: 2,
    names: '/dev/zero: not a file or folder',
    expected: /a pipe such as \/dev\/stdin/,
  },
  {
    name: 'netpol matrix: a value for --json',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--json=1'],
    code: 2,
    names: "unknown option '--json=1'",
    usage: true,
  },
  {
    name: 'netpol matrix: a value for --explain',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, '--explain=yes'],
    code: 2,
    names: "unknown option '--explain=yes'",
    usage: true,
  },
  {
    name: 'netpol matrix: an extra argument',
    argv: ['netpol', 'matrix', '-f', EXAMPLES, 'pods.yaml'],
    code: 2,
    names: "too many arguments for 'matrix'",
    usage: true,
  },
  // commands
  { name: 'an unknown command', argv: ['runn'], code: 2, names: "unknown command 'runn'", usage: true },
  {
    name: 'an unknown netpol command',
    argv: ['netpol', 'matrx'],
    code: 2,
    names: "unknown command 'matrx'",
    usage: true,
    expected: /Did you mean matrix\?/,
  },
];

// ---------------------------------------------------------------------------------------------
// environment

const TIMEOUT_EXPECTED = 'a duration above 0 and at most 24h, such as 90s, 5m, 1m30s or 1500ms';
const timeoutVar = (name: string, value: string, command = 'plan'): BadInput => ({
  name: `${command}: ${name}=${JSON.stringify(value)}`,
  argv: [command, ...(command === 'run' ? ['--reports-dir', '$D/r'] : [])],
  env: { [name]: value },
  code: 2,
  names: `invalid ${name}=`,
  expected: TIMEOUT_EXPECTED,
});

const ENV_CASES: BadInput[] = [
  {
    name: 'plan: a misspelt AMBIENT_TIMEOUT_ variable',
    argv: ['plan'],
    env: { AMBIENT_TIMEOUT_HELM_INSTAL: '8m' },
    code: 2,
    names: 'unknown environment variable AMBIENT_TIMEOUT_HELM_INSTAL',
    expected: /one of AMBIENT_TIMEOUT_<timeout>: AMBIENT_TIMEOUT_PREFLIGHT/,
  },
  {
    name: 'run: an AMBIENT_TIMEOUT_ variable with nothing close',
    argv: ['run', '--reports-dir', '$D/r'],
    env: { AMBIENT_TIMEOUT_FOO: '1m' },
    code: 2,
    names: 'unknown environment variable AMBIENT_TIMEOUT_FOO',
    expected: /one of AMBIENT_TIMEOUT_<timeout>/,
  },
  {
    name: 'doctor: a misspelt AMBIENT_TIMEOUT_ variable',
    argv: ['doctor'],
    env: { AMBIENT_TIMEOUT_PREFLITE: '5s' },
    code: 2,
    names: 'unknown environment variable AMBIENT_TIMEOUT_PREFLITE',
    expected: /AMBIENT_TIMEOUT_PREFLIGHT/,
  },
  {
    name: 'plan: AMBIENT_TIMEOUT_ with no name',
    argv: ['plan'],
    env: { AMBIENT_TIMEOUT_: '5s' },
    code: 2,
    names: 'unknown environment variable AMBIENT_TIMEOUT_',
    expected: /one of AMBIENT_TIMEOUT_<timeout>/,
  },
  timeoutVar('AMBIENT_TIMEOUT_HELM_INSTALL', 'forever'),
  timeoutVar('AMBIENT_TIMEOUT_HELM_INSTALL', '0'),
  timeoutVar('AMBIENT_TIMEOUT_POD_READY', '25h'),
  timeoutVar('AMBIENT_TIMEOUT_POD_READY', '-5s'),
  timeoutVar('AMBIENT_TIMEOUT_PROBE', '5 minutes'),
  timeoutVar('AMBIENT_TIMEOUT_PROBE', ' '),
  timeoutVar('AMBIENT_TIMEOUT_EXEC', '1e3'),
  timeoutVar('AMBIENT_TIMEOUT_EXEC', 'NaN'),
  timeoutVar('AMBIENT_TIMEOUT_CLUSTER_CREATE', '100000000'),
  timeoutVar('AMBIENT_TIMEOUT_NAMESPACE_DELETE', '5m30'),
  timeoutVar('AMBIENT_TIMEOUT_PREFLIGHT', '0ms', 'doctor'),
  timeoutVar('AMBIENT_TIMEOUT_DATAPLANE_CONVERGENCE', '1d', 'run'),
  {
    name: 'clean: AMBIENT_TIMEOUT_API_REQUEST="x"',
    argv: ['clean', '--kubeconfig', '$D/kc'],
    files: { kc: KUBECONFIG_GOOD },
    env: { AMBIENT_TIMEOUT_API_REQUEST: 'x' },
    code: 2,
    names: 'invalid AMBIENT_TIMEOUT_API_REQUEST=',
    expected: TIMEOUT_EXPECTED,
  },
  {
    name: 'plan: AMBIENT_TOOL_CACHE a file',
    argv: ['plan'],
    env: { AMBIENT_TOOL_CACHE: '$D/f' },
    files: { f: 'x' },
    code: 2,
    names: 'AMBIENT_TOOL_CACHE $D/f is not a folder this run can write to',
    expected: /an existing writable folder/,
  },
  {
    name: 'run: AMBIENT_TOOL_CACHE under a file',
    argv: ['run', '--reports-dir', '$D/r'],
    env: { AMBIENT_TOOL_CACHE: '$D/f/tools' },
    files: { f: 'x' },
    code: 2,
    names: 'AMBIENT_TOOL_CACHE $D/f/tools',
    expected: /an existing writable folder/,
  },
  {
    name: 'plan: AMBIENT_TOOL_CACHE under /proc',
    argv: ['plan'],
    env: { AMBIENT_TOOL_CACHE: '/proc/self/tools' },
    code: 2,
    names: 'AMBIENT_TOOL_CACHE /proc/self/tools',
    expected: /an existing writable folder/,
  },
  {
    name: 'plan --context: KUBECONFIG that does not exist',
    argv: ['plan', '--context', 'staging'],
    env: { KUBECONFIG: '$D/nope' },
    code: 2,
    names: 'kubeconfig not found: $D/nope',
    expected: 'a readable kubeconfig file',
  },
  {
    name: 'plan --context: KUBECONFIG not YAML',
    argv: ['plan', '--context', 'staging'],
    env: { KUBECONFIG: '$D/kc' },
    files: { kc: 'key: [unclosed\n' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'plan --context: KUBECONFIG a folder',
    argv: ['plan', '--context', 'staging'],
    env: { KUBECONFIG: '$D' },
    code: 2,
    names: 'kubeconfig $D is not usable',
    expected: KC_EXPECTED,
  },
  {
    name: 'plan --context: KUBECONFIG only separators (~/.kube/config missing)',
    argv: ['plan', '--context', 'staging'],
    env: { KUBECONFIG: '::' },
    code: 2,
    names: /kubeconfig not found: \S+\/\.kube\/config/,
    expected: 'a readable kubeconfig file',
  },
  {
    name: 'clean: KUBECONFIG an empty file',
    argv: ['clean'],
    env: { KUBECONFIG: '$D/kc' },
    files: { kc: '' },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: KUBECONFIG binary',
    argv: ['clean'],
    env: { KUBECONFIG: '$D/kc' },
    files: { kc: Buffer.from([0, 1, 2, 3]) },
    code: 2,
    names: KC_USABLE,
    expected: KC_EXPECTED,
  },
  {
    name: 'clean: KUBECONFIG without current-context',
    argv: ['clean'],
    env: { KUBECONFIG: '$D/kc' },
    files: { kc: KUBECONFIG_NO_CURRENT },
    code: 2,
    names: 'kubeconfig $D/kc names no current context',
    expected: '--context with one of: staging',
  },
  {
    name: 'clean: KUBECONFIG and a --context it does not define',
    argv: ['clean', '--context', 'prod'],
    env: { KUBECONFIG: '$D/kc' },
    files: { kc: KUBECONFIG_GOOD },
    code: 2,
    names: 'context prod is not in kubeconfig $D/kc',
    expected: 'one of: staging',
  },
  {
    name: 'clean: no KUBECONFIG and no ~/.kube/config',
    argv: ['clean'],
    code: 2,
    names: /kubeconfig \S+\/\.kube\/config is not usable/,
    expected: KC_EXPECTED,
  },
];

// ---------------------------------------------------------------------------------------------
// netpol matrix manifests

const np = (
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = { name: 'np', namespace: 'loki' },
) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata,
  spec,
});
const peer = (p: Record<string, unknown>) => ({ podSelector: {}, ingress: [{ from: [p] }] });
const port = (p: Record<string, unknown>) => ({ podSelector: {}, ingress: [{ ports: [p] }] });
const expr = (e: Record<string, unknown>) => np({ podSelector: { matchExpressions: [e] } });
const pod = (
  spec: Record<string, unknown> = { containers: [{ name: 'c' }] },
  status: Record<string, unknown> | null = { podIP: '10.244.1.10' },
  metadata: Record<string, unknown> = { name: 'p', namespace: 'apps' },
) => ({ apiVersion: 'v1', kind: 'Pod', metadata, spec, ...(status ? { status } : {}) });
const istio = (kind: string, spec: Record<string, unknown>, name = 'x') => ({
  apiVersion: 'security.istio.io/v1',
  kind,
  metadata: { name, namespace: 'loki' },
  spec,
});
const NP = 'NetworkPolicy loki/np';

/** One object in m.json, refused with `${file}: ${what}: ${problem} ${field}`. */
function manifest(
  name: string,
  object: Record<string, unknown>,
  what: string,
  field: string,
  expected: RegExp | string,
  problem: 'invalid' | 'unknown field' | 'missing' = 'invalid',
): BadInput {
  return {
    name: `netpol manifest: ${name}`,
    argv: ['netpol', 'matrix', '-f', '$D/m.json'],
    files: { 'm.json': JSON.stringify(object) },
    code: 2,
    names: `$D/m.json: ${what}: ${problem} ${field}`,
    expected,
  };
}

/** Files in the case folder, read with `-f $D` (plus `extra` argv). */
function folder(
  name: string,
  files: Record<string, Entry>,
  names: RegExp | string,
  expected: RegExp | string,
  extra: string[] = [],
): BadInput {
  return {
    name: `netpol manifests: ${name}`,
    argv: ['netpol', 'matrix', '-f', '$D', ...extra],
    files,
    code: 2,
    names,
    expected,
  };
}

const IB = 'spec.ingress[0].from[0].ipBlock';
const PORT = 'spec.ingress[0].ports[0]';
const EX = 'spec.podSelector.matchExpressions[0]';
const podYaml = (ns: string, ip: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: ${ns}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;

const MANIFEST_CASES: BadInput[] = [
  // ipBlock
  manifest(
    'a cidr prefix beyond 32',
    np(peer({ ipBlock: { cidr: '10.244.2.0/33' } })),
    NP,
    `${IB}.cidr`,
    /prefix length of at most 32/,
  ),
  manifest(
    'a cidr that is a word',
    np(peer({ ipBlock: { cidr: 'banana' } })),
    NP,
    `${IB}.cidr`,
    /a CIDR: an IP address, "\/" and a prefix length/,
  ),
  manifest(
    'a cidr without a prefix length',
    np(peer({ ipBlock: { cidr: '10.244.2.20' } })),
    NP,
    `${IB}.cidr`,
    /written with \/32/,
  ),
  manifest(
    'an IPv6 cidr beyond 128',
    np(peer({ ipBlock: { cidr: 'fd00::/129' } })),
    NP,
    `${IB}.cidr`,
    /at most 128/,
  ),
  manifest(
    'a cidr with leading zeros',
    np(peer({ ipBlock: { cidr: '010.244.2.0/24' } })),
    NP,
    `${IB}.cidr`,
    /without leading zeros/,
  ),
  manifest(
    'an IPv4-mapped IPv6 cidr',
    np(peer({ ipBlock: { cidr: '::ffff:10.0.0.0/120' } })),
    NP,
    `${IB}.cidr`,
    /IPv4-mapped/,
  ),
  manifest(
    'an ipBlock without cidr',
    np(peer({ ipBlock: { except: ['10.0.0.0/24'] } })),
    NP,
    `${IB}.cidr`,
    /a CIDR/,
    'missing',
  ),
  manifest(
    'an except outside the cidr',
    np(peer({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.3.0/28'] } })),
    NP,
    `${IB}.except[0]`,
    /strictly inside cidr 10\.244\.2\.0\/24/,
  ),
  manifest(
    'an except equal to the cidr',
    np(peer({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.0/24'] } })),
    NP,
    `${IB}.except[0]`,
    /strictly inside/,
  ),
  manifest(
    'an except of the other family',
    np(peer({ ipBlock: { cidr: '10.244.2.0/24', except: ['fd00::/64'] } })),
    NP,
    `${IB}.except[0]`,
    /the same address family/,
  ),
  manifest(
    'an except that is no CIDR',
    np(peer({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.7'] } })),
    NP,
    `${IB}.except[0]`,
    /a CIDR/,
  ),
  manifest(
    'ipBlock with a podSelector',
    np(peer({ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} })),
    NP,
    'spec.ingress[0].from[0]',
    /ipBlock cannot be combined with podSelector or namespaceSelector/,
  ),
  manifest(
    'an empty peer',
    np(peer({})),
    NP,
    'spec.ingress[0].from[0]',
    /a peer: podSelector, namespaceSelector \(or both\), or ipBlock/,
  ),
  // ports and endPort
  manifest(
    'endPort without port',
    np(port({ endPort: 9000 })),
    NP,
    `${PORT}.endPort`,
    /endPort only together with a numeric port/,
  ),
  manifest(
    'endPort below port',
    np(port({ port: 9000, endPort: 8000 })),
    NP,
    `${PORT}.endPort`,
    /not below port \(9000\)/,
  ),
  manifest(
    'endPort with a named port',
    np(port({ port: 'http', endPort: 8000 })),
    NP,
    `${PORT}.endPort`,
    /no endPort with a named port/,
  ),
  manifest(
    'endPort beyond 65535',
    np(port({ port: 9000, endPort: 70000 })),
    NP,
    `${PORT}.endPort`,
    /from 1 to 65535/,
  ),
  manifest('port 0', np(port({ port: 0 })), NP, `${PORT}.port`, /from 1 to 65535/),
  manifest('port 99999', np(port({ port: 99999 })), NP, `${PORT}.port`, /from 1 to 65535/),
  manifest(
    'a quoted port number',
    np(port({ port: '8080' })),
    NP,
    `${PORT}.port`,
    /a quoted number is read as a name/,
  ),
  manifest(
    'a port name longer than 15',
    np(port({ port: 'http-metrics-extra' })),
    NP,
    `${PORT}.port`,
    /IANA_SVC_NAME/,
  ),
  manifest('a port name with "--"', np(port({ port: 'web--a' })), NP, `${PORT}.port`, /no "--"/),
  manifest('a port name in capitals', np(port({ port: 'HTTP' })), NP, `${PORT}.port`, /IANA_SVC_NAME/),
  manifest(
    'protocol tcp',
    np(port({ protocol: 'tcp', port: 80 })),
    NP,
    `${PORT}.protocol`,
    /one of TCP, UDP, SCTP/,
  ),
  manifest('protocol ICMP', np(port({ protocol: 'ICMP' })), NP, `${PORT}.protocol`, /one of TCP, UDP, SCTP/),
  manifest(
    'a third policyType',
    np({ podSelector: {}, policyTypes: ['Ingress', 'Egress', 'Ingress'] }),
    NP,
    'spec.policyTypes',
    /at most two policyTypes/,
  ),
  manifest(
    'a misspelt policyType',
    np({ podSelector: {}, policyTypes: ['Ingres'] }),
    NP,
    'spec.policyTypes[0]',
    /Ingress or Egress/,
  ),
  // selectors
  manifest(
    'In without values',
    expr({ key: 'app', operator: 'In' }),
    NP,
    `${EX}.values`,
    /operator In needs values/,
    'missing',
  ),
  manifest(
    'NotIn with no values',
    expr({ key: 'app', operator: 'NotIn', values: [] }),
    NP,
    `${EX}.values`,
    /operator NotIn needs values/,
    'missing',
  ),
  manifest(
    'Exists with values',
    expr({ key: 'app', operator: 'Exists', values: ['a'] }),
    NP,
    `${EX}.values`,
    /operator Exists takes none/,
  ),
  manifest(
    'DoesNotExist with values',
    expr({ key: 'app', operator: 'DoesNotExist', values: ['a'] }),
    NP,
    `${EX}.values`,
    /operator DoesNotExist takes none/,
  ),
  manifest(
    'an unknown operator',
    expr({ key: 'app', operator: 'Equals', values: ['a'] }),
    NP,
    `${EX}.operator`,
    /one of In, NotIn, Exists, DoesNotExist/,
  ),
  manifest(
    'a selector key with a space',
    expr({ key: 'my app', operator: 'Exists' }),
    NP,
    `${EX}.key`,
    /a label key: a qualified name/,
  ),
  manifest(
    'a selector key with two slashes',
    expr({ key: 'a/b/c', operator: 'Exists' }),
    NP,
    `${EX}.key`,
    /a qualified name/,
  ),
  manifest(
    'a selector value that is no label value',
    expr({ key: 'app', operator: 'In', values: ['-web'] }),
    NP,
    `${EX}.values[0]`,
    /a label value/,
  ),
  manifest(
    'a matchLabels key with a space',
    np({ podSelector: { matchLabels: { 'bad key': 'x' } } }),
    NP,
    'spec.podSelector.matchLabels["bad key"]',
    /a label key/,
  ),
  manifest(
    'a matchLabels value of 64 characters',
    np(peer({ namespaceSelector: { matchLabels: { team: 'a'.repeat(64) } } })),
    NP,
    'spec.ingress[0].from[0].namespaceSelector.matchLabels["team"]',
    /at most 63/,
  ),
  manifest(
    'a matchLabels value that is a number',
    np({ podSelector: { matchLabels: { version: 1.5 } } }),
    NP,
    'spec.podSelector.matchLabels["version"]',
    /a string \(quote values/,
  ),
  // unknown fields
  manifest(
    'spec.ingres',
    np({ podSelector: {}, ingres: [{}] }),
    NP,
    'spec.ingres',
    'one of the fields of NetworkPolicySpec (networking.k8s.io/v1): podSelector, ingress, egress, policyTypes',
    'unknown field',
  ),
  manifest(
    'ingress[0].form',
    np({ podSelector: {}, ingress: [{ form: [] }] }),
    NP,
    'spec.ingress[0].form',
    /NetworkPolicyIngressRule/,
    'unknown field',
  ),
  manifest(
    'from in an egress rule',
    np({ podSelector: {}, egress: [{ from: [] }] }),
    NP,
    'spec.egress[0].from',
    /NetworkPolicyEgressRule \(networking\.k8s\.io\/v1\): ports, to/,
    'unknown field',
  ),
  manifest(
    'podSelecter in a peer',
    np(peer({ podSelecter: {} })),
    NP,
    'spec.ingress[0].from[0].podSelecter',
    /NetworkPolicyPeer/,
    'unknown field',
  ),
  manifest(
    'ipBlock.exception',
    np(peer({ ipBlock: { cidr: '10.0.0.0/8', exception: [] } })),
    NP,
    `${IB}.exception`,
    /IPBlock/,
    'unknown field',
  ),
  manifest(
    'matchLabel',
    np({ podSelector: { matchLabel: { app: 'x' } } }),
    NP,
    'spec.podSelector.matchLabel',
    /LabelSelector \(meta\/v1\): matchLabels, matchExpressions/,
    'unknown field',
  ),
  manifest(
    'a status on a NetworkPolicy',
    { ...np({}), status: {} },
    NP,
    'status',
    /NetworkPolicy \(networking\.k8s\.io\/v1\)/,
    'unknown field',
  ),
  manifest(
    'metadata.label',
    np({}, { name: 'np', namespace: 'loki', label: { a: 'b' } }),
    NP,
    'metadata.label',
    /ObjectMeta/,
    'unknown field',
  ),
  manifest(
    'Namespace metadata.lables',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', lables: {} } },
    'Namespace x',
    'metadata.lables',
    /ObjectMeta/,
    'unknown field',
  ),
  manifest(
    'Pod spec.serviceAcountName',
    pod({ containers: [{ name: 'c' }], serviceAcountName: 'x' }),
    'Pod apps/p',
    'spec.serviceAcountName',
    /PodSpec \(v1\)/,
    'unknown field',
  ),
  manifest(
    'container port:',
    pod({ containers: [{ name: 'c', port: [{ containerPort: 80 }] }] }),
    'Pod apps/p',
    'spec.containers[0].port',
    /Container \(v1\)/,
    'unknown field',
  ),
  manifest(
    'containerport',
    pod({ containers: [{ name: 'c', ports: [{ containerport: 80 }] }] }),
    'Pod apps/p',
    'spec.containers[0].ports[0].containerport',
    /ContainerPort \(v1\): name, hostPort, containerPort, protocol, hostIP/,
    'unknown field',
  ),
  manifest(
    'PeerAuthentication mtls.mod',
    istio('PeerAuthentication', { mtls: { mod: 'STRICT' } }),
    'PeerAuthentication loki/x',
    'spec.mtls.mod',
    /PeerAuthentication mtls/,
    'unknown field',
  ),
  manifest(
    'matchExpressions in an Istio selector',
    istio('PeerAuthentication', { selector: { matchExpressions: [] } }),
    'PeerAuthentication loki/x',
    'spec.selector.matchExpressions',
    /WorkloadSelector \(security\.istio\.io\/v1\): matchLabels/,
    'unknown field',
  ),
  manifest(
    'AuthorizationPolicy source.principal',
    istio('AuthorizationPolicy', { rules: [{ from: [{ source: { principal: ['x'] } }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].from[0].source.principal',
    /Source \(security\.istio\.io\/v1\): principals/,
    'unknown field',
  ),
  // metadata names, Pods and Istio values
  manifest(
    'a Pod name with capitals',
    pod(undefined, undefined, { name: 'Prometheus', namespace: 'apps' }),
    'Pod apps/Prometheus',
    'metadata.name',
    /a DNS-1123 subdomain/,
  ),
  manifest(
    'a namespace with a dot',
    pod(undefined, undefined, { name: 'p', namespace: 'team.a' }),
    'Pod team.a/p',
    'metadata.namespace',
    /a DNS-1123 label/,
  ),
  manifest(
    'a Namespace name with a dot',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team.a' } },
    'Namespace team.a',
    'metadata.name',
    /a DNS-1123 label/,
  ),
  manifest(
    'a NetworkPolicy name with "_"',
    np({}, { name: 'allow_all', namespace: 'loki' }),
    'NetworkPolicy loki/allow_all',
    'metadata.name',
    /a DNS-1123 subdomain/,
  ),
  manifest(
    'generateName without a name',
    np({}, { generateName: 'np-', namespace: 'loki' }),
    'NetworkPolicy (unnamed)',
    'metadata.name',
    /generateName alone names nothing/,
    'missing',
  ),
  manifest(
    'a label value with a space',
    pod(undefined, undefined, { name: 'p', namespace: 'apps', labels: { app: 'my app' } }),
    'Pod apps/p',
    'metadata.labels["app"]',
    /a label value/,
  ),
  manifest(
    'an annotation key with two slashes',
    pod(undefined, undefined, { name: 'p', namespace: 'apps', annotations: { 'a/b/c': 'x' } }),
    'Pod apps/p',
    'metadata.annotations["a/b/c"]',
    /an annotation key/,
  ),
  manifest(
    'a Pod without status',
    pod(undefined, null),
    'Pod apps/p',
    'status.podIP',
    /the pod’s IP in status\.podIP/,
    'missing',
  ),
  manifest(
    'a Pending Pod without podIP',
    pod(undefined, { phase: 'Pending' }),
    'Pod apps/p',
    'status.podIP',
    /places pods by IP/,
    'missing',
  ),
  manifest(
    'a podIP that is no IP',
    pod(undefined, { podIP: 'banana' }),
    'Pod apps/p',
    'status.podIP',
    /an IP address/,
  ),
  manifest(
    'a podIP with leading zeros',
    pod(undefined, { podIP: '10.244.01.10' }),
    'Pod apps/p',
    'status.podIP',
    /without leading zeros/,
  ),
  manifest(
    'a Pod without containers',
    pod({ containers: [] }),
    'Pod apps/p',
    'spec.containers',
    /at least one container/,
  ),
  manifest(
    'a container name with capitals',
    pod({ containers: [{ name: 'Web' }] }),
    'Pod apps/p',
    'spec.containers[0].name',
    /a DNS-1123 label/,
  ),
  manifest(
    'two containers of one name',
    pod({ containers: [{ name: 'c' }, { name: 'c' }] }),
    'Pod apps/p',
    'spec.containers[1].name',
    /a name no other container or init container of the pod has/,
  ),
  manifest(
    'containerPort 0',
    pod({ containers: [{ name: 'c', ports: [{ containerPort: 0 }] }] }),
    'Pod apps/p',
    'spec.containers[0].ports[0].containerPort',
    /from 1 to 65535/,
  ),
  manifest(
    'a container port name with "_"',
    pod({ containers: [{ name: 'c', ports: [{ name: 'http_metrics', containerPort: 80 }] }] }),
    'Pod apps/p',
    'spec.containers[0].ports[0].name',
    /IANA_SVC_NAME/,
  ),
  manifest(
    'a serviceAccountName with capitals',
    pod({ containers: [{ name: 'c' }], serviceAccountName: 'Loki' }),
    'Pod apps/p',
    'spec.serviceAccountName',
    /a DNS-1123 subdomain/,
  ),
  manifest(
    'a PeerAuthentication mode STRICTER',
    istio('PeerAuthentication', { mtls: { mode: 'STRICTER' } }),
    'PeerAuthentication loki/x',
    'spec.mtls.mode',
    /one of UNSET, DISABLE, PERMISSIVE, STRICT/,
  ),
  manifest(
    'portLevelMtls without a selector',
    istio('PeerAuthentication', { portLevelMtls: { '3100': { mode: 'DISABLE' } } }),
    'PeerAuthentication loki/x',
    'spec.portLevelMtls',
    /portLevelMtls only with a spec\.selector/,
  ),
  manifest(
    'selector and targetRefs',
    istio('AuthorizationPolicy', {
      selector: { matchLabels: { app: 'loki' } },
      targetRefs: [{ kind: 'Service', name: 'loki' }],
    }),
    'AuthorizationPolicy loki/x',
    'spec.targetRefs',
    /only one of selector, targetRef and targetRefs/,
  ),
  manifest(
    'an AuthorizationPolicy port by name (istiod webhook: ValidatePorts)',
    istio('AuthorizationPolicy', { rules: [{ to: [{ operation: { ports: ['http'] } }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].to[0].operation.ports[0]',
    /a port number from 0 to 65535 in decimal/,
  ),
  manifest(
    'an AuthorizationPolicy ipBlock that is no address (istiod webhook: ValidateIPs)',
    istio('AuthorizationPolicy', { rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8', 'lan'] } }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].from[0].source.ipBlocks[1]',
    /an IP address or CIDR/,
  ),
  manifest(
    'an unknown condition key (istiod webhook: ValidateAttribute)',
    istio('AuthorizationPolicy', { rules: [{ when: [{ key: 'source.ips', values: ['10.0.0.1'] }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].when[0].key',
    /a condition key istiod knows/,
  ),
  manifest(
    'a DENY without rules (istiod webhook)',
    istio('AuthorizationPolicy', { action: 'DENY' }),
    'AuthorizationPolicy loki/x',
    'spec.rules',
    /rules on a DENY policy/,
  ),
  manifest(
    'an empty source (istiod webhook)',
    istio('AuthorizationPolicy', { rules: [{ from: [{ source: {} }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].from[0].source',
    /at least one field with a value/,
  ),
  manifest(
    'a probe with two handlers',
    pod({
      containers: [{ name: 'c', readinessProbe: { tcpSocket: { port: 80 }, exec: { command: ['true'] } } }],
    }),
    'Pod apps/p',
    'spec.containers[0].readinessProbe',
    /exactly one handler/,
  ),
  manifest(
    'a grpc probe with a named port',
    pod({ containers: [{ name: 'c', livenessProbe: { grpc: { port: 'grpc' } } }] }),
    'Pod apps/p',
    'spec.containers[0].livenessProbe.grpc.port',
    /a port number/,
  ),
  manifest(
    'an action REJECT',
    istio('AuthorizationPolicy', { action: 'REJECT' }),
    'AuthorizationPolicy loki/x',
    'spec.action',
    /one of ALLOW, DENY, AUDIT, CUSTOM/,
  ),
  manifest(
    'a condition without a key',
    istio('AuthorizationPolicy', { rules: [{ when: [{ values: ['x'] }] }] }),
    'AuthorizationPolicy loki/x',
    'spec.rules[0].when[0].key',
    /a key/,
    'missing',
  ),
  // apiVersion and kind
  {
    ...manifest(
      'no apiVersion',
      { kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'loki' } },
      NP,
      '',
      'apiVersion: networking.k8s.io/v1',
    ),
    names: '$D/m.json: NetworkPolicy loki/np: missing apiVersion',
  },
  {
    ...manifest(
      'extensions/v1beta1',
      { ...np({}), apiVersion: 'extensions/v1beta1' },
      NP,
      '',
      'networking.k8s.io/v1',
    ),
    names: '$D/m.json: NetworkPolicy loki/np: invalid apiVersion',
  },
  {
    ...manifest(
      'a PeerAuthentication of v2',
      { ...istio('PeerAuthentication', {}), apiVersion: 'security.istio.io/v2' },
      '',
      '',
      /security\.istio\.io\/v1 or security\.istio\.io\/v1beta1/,
    ),
    names: '$D/m.json: PeerAuthentication loki/x: invalid apiVersion',
  },
  {
    ...manifest(
      'a Namespace without metadata',
      { apiVersion: 'v1', kind: 'Namespace' },
      '',
      '',
      'metadata with a name',
    ),
    names: '$D/m.json: Namespace (unnamed): missing metadata.name',
  },
  {
    ...manifest('a Pod with metadata: null', { ...pod(), metadata: null }, '', '', 'metadata with a name'),
    names: '$D/m.json: Pod (unnamed): missing metadata.name',
  },
  manifest(
    'a NetworkPolicy spec that is a string',
    { ...np({}), spec: 'x' },
    NP,
    'spec',
    /an object \(NetworkPolicySpec/,
  ),
  manifest(
    'a Namespace name of 64 characters',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a'.repeat(64) } },
    `Namespace ${'a'.repeat(64)}`,
    'metadata.name',
    /at most 63 characters/,
  ),
  manifest(
    'a Namespace label value that is a number',
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'a', labels: { 'istio.io/dataplane-mode': 1 } },
    },
    'Namespace a',
    'metadata.labels["istio.io/dataplane-mode"]',
    /a string \(quote values/,
  ),
  manifest(
    'an empty podIP',
    pod(undefined, { podIP: '' }),
    'Pod apps/p',
    'status.podIP',
    /places pods by IP/,
    'missing',
  ),
  manifest(
    'a podIP with a zone',
    pod(undefined, { podIP: 'fe80::1%eth0' }),
    'Pod apps/p',
    'status.podIP',
    /an IP address/,
  ),
  manifest(
    'containers: null',
    pod({ containers: null }),
    'Pod apps/p',
    'spec.containers',
    /at least one container/,
  ),
  manifest(
    'metadata.__proto__',
    { apiVersion: 'v1', kind: 'Namespace', metadata: JSON.parse('{"name":"x","__proto__":{"a":1}}') },
    'Namespace x',
    'metadata.__proto__',
    /ObjectMeta \(meta\/v1\)/,
    'unknown field',
  ),
  folder(
    'a kind that is a number',
    { 'm.yaml': 'apiVersion: v1\nkind: 5\nmetadata: {name: a}\n' },
    '$D/m.yaml: an object has no kind',
    /kind and apiVersion/,
  ),
  folder(
    'a List inside a List with a number',
    { 'm.yaml': 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - 5\n' },
    '$D/m.yaml (items[0], items[0]): an empty entry in List items',
    /a Kubernetes object/,
  ),
  folder(
    'an alias to an anchor of another document',
    {
      'm.yaml': `${podYaml('apps', '10.0.0.1').replace('metadata:', 'metadata: &m')}---\napiVersion: v1\nkind: Namespace\nmetadata: *m\n`,
    },
    '$D/m.yaml (document 2): cannot be read as YAML',
    'Kubernetes manifests',
  ),
  folder(
    '50,000 nested YAML flow sequences',
    { 'm.yaml': `a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n` },
    '$D/m.yaml: not valid YAML or JSON',
    'Kubernetes manifests',
  ),
  folder(
    'an object without kind',
    { 'm.yaml': 'apiVersion: v1\nmetadata: {name: x}\n' },
    '$D/m.yaml: an object has no kind',
    /kind and apiVersion/,
  ),
  // files and documents
  folder(
    'invalid YAML',
    { 'm.yaml': 'kind: Pod\nmetadata: [\n' },
    '$D/m.yaml: not valid YAML or JSON',
    'Kubernetes manifests',
  ),
  folder(
    'a YAML alias bomb',
    { 'bomb.yaml': ALIAS_BOMB },
    '$D/bomb.yaml: cannot be read as YAML',
    'Kubernetes manifests',
  ),
  folder(
    'a document that is a scalar',
    { 'm.yaml': 'just text\n' },
    '$D/m.yaml: a document is not an object',
    'a Kubernetes object',
  ),
  folder(
    'a second document that is a list',
    { 'm.yaml': `${podYaml('apps', '10.0.0.1')}---\n- a\n` },
    '$D/m.yaml (document 2): a document is not an object',
    'a Kubernetes object',
  ),
  folder(
    'a JSON document that is an array',
    { 'm.json': '[{"kind":"Pod"}]' },
    '$D/m.json: the JSON document is not an object',
    /a Kubernetes object \(or a List of them\)/,
  ),
  folder(
    'a JSON key twice',
    {
      'np.json':
        '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",\n"metadata":{"name":"a","name":"b"}}',
    },
    '$D/np.json: line 2: the key "name" appears twice in one object',
    /each field once per object/,
  ),
  folder(
    'a List with an empty entry',
    {
      'l.yaml':
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n-\n',
    },
    '$D/l.yaml (items[1]): an empty entry in List items',
    /a Kubernetes object with kind, apiVersion and metadata/,
  ),
  folder(
    'a List with an empty object',
    { 'l.json': '{"apiVersion":"v1","kind":"List","items":[{}]}' },
    '$D/l.json (items[0]): an empty entry in List items',
    /a Kubernetes object/,
  ),
  folder(
    'a List whose items are a mapping',
    { 'l.yaml': 'apiVersion: v1\nkind: List\nitems: {a: 1}\n' },
    '$D/l.yaml: List: invalid items',
    'a list of objects',
  ),
  folder(
    'a List with an unknown field',
    { 'l.yaml': 'apiVersion: v1\nkind: List\nitem: []\nitems: []\n' },
    '$D/l.yaml: List: unknown field item',
    /apiVersion, kind, metadata, items/,
  ),
  folder(
    'the same Pod in two files',
    { 'a.yaml': podYaml('default', '10.0.0.1'), 'b.yaml': podYaml('default', '10.0.0.2') },
    '$D/b.yaml: Pod default/web is defined twice',
    /each object \(kind, namespace, name\) once/,
  ),
  folder(
    'a Pod without namespace and one in default',
    { 'a.yaml': podYaml('""', '10.0.0.1'), 'b.yaml': podYaml('default', '10.0.0.2') },
    '$D/b.yaml: Pod default/web is defined twice',
    /each object/,
  ),
  folder(
    'a Namespace twice in one List',
    {
      'm.yaml':
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: apps}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: apps}}\n',
    },
    '$D/m.yaml (items[1]): Namespace apps is defined twice',
    /each object/,
  ),
  folder(
    'a symlink loop in a folder',
    { a: { dir: true }, 'a/up': { link: '..' } },
    '$D/a/up: a symlink loop',
    'a folder tree without cycles',
  ),
  folder(
    'a symlink to itself',
    { 'self.yaml': { link: 'self.yaml' } },
    '$D/self.yaml: a symlink loop',
    'a manifest file or a folder of them',
  ),
  folder(
    'a dangling symlink',
    { 'pods.yaml': { link: '$D/gone/pods.yaml' } },
    '$D/pods.yaml: a dangling symlink',
    'a manifest file or a folder of them',
  ),
  folder(
    'a FIFO inside a folder is skipped, leaving no Pods',
    { 'p.yaml': { fifo: true }, 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n' },
    'no Pod objects found in the manifests',
    /Pods \(with status\.podIP and container ports\)/,
  ),
  folder(
    'no Pod at all',
    { 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n' },
    'no Pod objects found in the manifests',
    /Pods \(with status\.podIP/,
  ),
  folder(
    'a matrix above the cell limit',
    {
      'pods.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: Array.from({ length: 600 }, (_, i) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `p-${i}`, namespace: 'big' },
          spec: { containers: [{ name: 'c', ports: [{ containerPort: 80 }] }] },
          status: { podIP: `10.1.${i >> 8}.${i & 255}` },
        })),
      }),
    },
    'the matrix would have 359,400 cells, more than the limit of 250,000',
    /at most 250,000 cells/,
    ['--json'],
  ),
];

/** Inputs that fell short when the catalogue was first written, fixed since. */
const FIXED_CASES: BadInput[] = [
  rawProfile(
    'binary bytes (echoed escaped, never raw)',
    Buffer.from([0, 1, 2, ...Buffer.from('binary\n')]),
    'invalid profile $D/profile.yaml: (root)',
    'a value of type object',
  ),
  profile(
    'a misspelt required key (nodeimage) is named, not reported as nodeImage missing',
    (d) => {
      d.cluster.kind.nodeimage = d.cluster.kind.nodeImage;
      delete d.cluster.kind.nodeImage;
    },
    'cluster.kind.nodeimage',
    /only the fields cluster.kind knows: config, nodeImage/,
  ),
  profile(
    'a misspelt required key (verison) is named',
    (d) => {
      d.istio.verison = d.istio.version;
      delete d.istio.version;
    },
    'istio.verison',
    /version/,
  ),
  profile(
    'budgets.istiod.cpu: true',
    (d) => (d.budgets.istiod.cpu = true),
    'budgets.istiod.cpu',
    'a CPU quantity such as 50m or 0.2',
  ),
  profile(
    'budgets.istiod.memory: null',
    (d) => (d.budgets.istiod.memory = null),
    'budgets.istiod.memory',
    'a memory quantity such as 128Mi',
  ),
  profile(
    'timeouts.exec: true',
    (d) => (d.timeouts = { exec: true }),
    'timeouts.exec',
    'a duration such as 90s, 5m or 1m30s',
  ),
  {
    name: 'doctor: --kubeconfig that does not exist',
    argv: ['doctor', '--kubeconfig', '$D/nope'],
    code: 2,
    names: 'kubeconfig $D/nope is not usable',
    expected: /a kubeconfig file/,
  },
  {
    name: 'doctor: --kubeconfig that is not YAML',
    argv: ['doctor', '--kubeconfig', '$D/kc'],
    files: { kc: '{{{{' },
    code: 2,
    names: 'kubeconfig $D/kc is not usable',
  },
  {
    name: 'doctor: --context empty',
    argv: ['doctor', '--context', ''],
    code: 2,
    names: '--context: an empty value',
    expected: /a context name/,
  },
  {
    name: 'clean: --kubeconfig empty',
    argv: ['clean', '--kubeconfig', ''],
    code: 2,
    names: '--kubeconfig: an empty value',
    expected: 'the path of a kubeconfig file',
  },
  {
    name: 'clean: --context empty',
    argv: ['clean', '--context', ''],
    code: 2,
    names: '--context: an empty value',
  },
  {
    name: 'netpol matrix: -f empty',
    argv: ['netpol', 'matrix', '-f', ''],
    code: 2,
    names: '-f/--file: an empty value',
    expected: /a manifest file or folder/,
  },
  {
    name: 'netpol matrix: a YAML alias inside itself (Namespace metadata)',
    argv: ['netpol', 'matrix', '-f', '$D/m.yaml'],
    files: { 'm.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: &m {name: x, labels: *m}\n' },
    code: 2,
    names: '$D/m.yaml: a YAML alias contains itself',
  },
  {
    name: 'netpol matrix: a YAML alias inside itself (NetworkPolicy selector)',
    argv: ['netpol', 'matrix', '-f', '$D/m.yaml'],
    files: {
      'm.yaml':
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: a}\nspec: &s {podSelector: {matchLabels: {a: *s}}}\n',
    },
    code: 2,
    names: '$D/m.yaml: a YAML alias contains itself',
  },
  {
    name: 'netpol matrix: labels nested 50,000 lists deep (JSON)',
    argv: ['netpol', 'matrix', '-f', '$D/m.json'],
    files: {
      'm.json': `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
    },
    code: 2,
    names: '$D/m.json: nested deeper than 100 levels',
  },
];

// ---------------------------------------------------------------------------------------------
// upgrade plan (always --offline and dated: nothing is fetched, the verdicts do not move)

const UP = ['upgrade', 'plan', '--offline', '--date', '2026-11-30'];

/** An Argo CD Application of the istiod chart, values from `$values/values.yaml`, after `mutate`. */
function istiodApp(mutate: (d: any) => void = () => undefined): string {
  const d: any = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'istiod', namespace: 'argocd' },
    spec: {
      sources: [
        {
          repoURL: 'https://blob.istio.io/istio-release/charts',
          chart: 'istiod',
          targetRevision: '1.28.3',
          helm: { valueFiles: ['$values/values.yaml'] },
        },
        { repoURL: 'https://git.example.invalid/homelab.git', targetRevision: 'main', ref: 'values' },
      ],
      destination: { server: 'https://kubernetes.default.svc', namespace: 'istio-system' },
    },
  };
  mutate(d);
  return stringify(d);
}

const UPGRADE_CASES: BadInput[] = [
  {
    name: 'upgrade plan: --gitops with a YAML alias bomb',
    argv: [...UP, '--to', '1.31.1', '--gitops', '$D/g'],
    files: { g: { dir: true }, 'g/bomb.yaml': ALIAS_BOMB },
    code: 2,
    names: '--gitops $D/g: bomb.yaml: document 1',
    expected: 'whose aliases expand to a bounded document',
  },
  {
    name: 'upgrade plan: a $values file with a YAML alias bomb',
    argv: [...UP, '--to', '1.31.1', '--gitops', '$D/g'],
    files: { g: { dir: true }, 'g/app.yaml': istiodApp(), 'g/values.yaml': ALIAS_BOMB },
    code: 2,
    names: '--gitops $D/g: values.yaml: (root)',
    expected: 'Helm values in YAML, whose aliases expand to a bounded document',
  },
  {
    name: 'upgrade plan: a jqPathExpression that does not compile',
    argv: [...UP, '--to', '1.31.1', '--gitops', '$D/g'],
    files: {
      g: { dir: true },
      'g/values.yaml': 'replicaCount: 1\n',
      'g/app.yaml': istiodApp((d) => {
        d.spec.ignoreDifferences = [
          {
            group: 'apps',
            kind: 'Deployment',
            jqPathExpressions: ['.spec.replicas', '.spec.revisionHistoryLimit[[['],
          },
        ];
      }),
    },
    code: 2,
    names:
      /^ambient-conformance: --gitops \S+: app\.yaml: Application istiod: spec\.ignoreDifferences\[0\]\.jqPathExpressions\[1\] does not compile\n {2}expected: .*\n {2}seen: {5}"\.spec\.revisionHistoryLimit\[\[\[": syntax error, unexpected [^\n]*\n?$/,
    expected: 'a jq path expression',
  },
  {
    name: 'upgrade plan: targetRevision banana',
    argv: [...UP, '--to', '1.31.1', '--gitops', '$D/g'],
    files: {
      g: { dir: true },
      'g/values.yaml': 'replicaCount: 1\n',
      'g/app.yaml': istiodApp((d) => {
        d.spec.sources[0].targetRevision = 'banana';
      }),
    },
    code: 2,
    names: '--gitops $D/g: app.yaml: Application istiod: targetRevision',
    expected: 'a chart version (1.31.1) or a semver range',
  },
  {
    name: 'upgrade plan: --gitops with a .json file that does not parse',
    argv: [...UP, '--to', '1.31.1', '--gitops', '$D/g'],
    files: { g: { dir: true }, 'g/a.json': '{"apiVersion": "argoproj.io/v1alpha1", "kind": \n' },
    code: 2,
    names:
      /--gitops \S+: a\.json: document 1\n {2}expected: YAML \(Kubernetes manifests\)\n {2}seen: {5}\S[^\n]*[^:\n]\n?$/,
  },
  {
    name: 'upgrade plan: --gitops /proc',
    argv: [...UP, '--to', '1.31.1', '--gitops', '/proc'],
    code: 2,
    names: '--gitops /proc: not a folder of manifests',
    expected: 'the folder of the Istio Applications',
  },
  {
    name: 'upgrade plan: --gitops /',
    argv: [...UP, '--to', '1.31.1', '--gitops', '/'],
    code: 2,
    names: '--gitops /: not a folder of manifests',
    expected: 'the folder of the Istio Applications',
  },
  {
    name: 'upgrade plan: a --gitops path of 5000 characters is echoed bounded',
    argv: [...UP, '--to', '1.31.1', '--gitops', `$D/${'g'.repeat(5000)}`],
    code: 2,
    names: 'no such folder',
    bounded: 1000,
  },
  {
    name: 'upgrade plan: --via given twice',
    argv: [...UP, '--to', '1.31.1', '--via', '1.29.6', '--via', '1.29.6'],
    code: 2,
    names: '--via 1.29.6 is given twice',
    expected: 'each stop once',
  },
  {
    name: 'upgrade plan: a --via list of 5000 characters is echoed bounded',
    argv: [...UP, '--to', '1.31.1', '--via', Array(600).fill('1.29.6').join(',')],
    code: 2,
    names: '--via 1.29.6 is given twice',
    bounded: 1000,
  },
  {
    name: 'upgrade plan: --to with a 400-digit patch',
    argv: [...UP, '--to', `1.31.${'9'.repeat(400)}`],
    code: 2,
    names: '--to "1.31.99',
    expected: 'at most 40 characters, each number at most 4 digits',
    bounded: 1000,
  },
  {
    name: 'upgrade plan: --to with a 20-digit patch',
    argv: [...UP, '--to', `1.31.${'9'.repeat(20)}`],
    code: 2,
    names: 'is not an Istio version',
    expected: 'each number at most 4 digits',
  },
  {
    name: 'upgrade plan: --to given twice with different values',
    argv: [...UP, '--to', '1.31.1', '--to', '1.30.5'],
    code: 2,
    names: "option '--to <version>' argument '1.30.5' is invalid. given twice with different values",
    usage: true,
  },
  {
    name: 'upgrade plan: --from given twice with different values',
    argv: [...UP, '--to', '1.31.1', '--from', '1.28.3', '--from', '1.29.6'],
    code: 2,
    names: "option '--from <version>' argument '1.29.6' is invalid. given twice with different values",
    usage: true,
  },
  {
    name: 'upgrade plan: --date before the release table',
    argv: ['upgrade', 'plan', '--offline', '--to', '1.31.1', '--date', '0000-01-01'],
    code: 2,
    names: '--date 0000-01-01 is before the release table',
    expected: 'a date on or after 2025-11-05',
  },
  {
    name: "upgrade plan: --date ''",
    argv: ['upgrade', 'plan', '--offline', '--to', '1.31.1', '--date', ''],
    code: 2,
    names: /--date "" is not a date\n.*\n {2}seen: {5}an empty value/,
  },
];

const CASES: BadInput[] = [
  ...PROFILE_CASES,
  ...VALUES_CASES,
  ...FLAG_CASES,
  ...ENV_CASES,
  ...MANIFEST_CASES,
  ...FIXED_CASES,
  ...UPGRADE_CASES,
];

// ---------------------------------------------------------------------------------------------
// running a case

let work: string;
let home: string;
let fake: FakeBin;
const TOOLS = ['docker', 'kind', 'helm'] as const;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'bad-input-'));
  home = path.join(work, 'home');
  mkdirSync(home);
  // As cli/cli.test.ts dockerDown(): the daemon is down, kind and helm answer `version`.
  fake = makeFakeBin({
    docker: [
      {
        match: 'info',
        stdout: fixture('docker/info-daemon-down.stdout'),
        stderr: fixture('docker/info-daemon-down.stderr'),
        exit: 1,
      },
    ],
    kind: [{ match: 'version', stdout: fixture('kind/version.stdout') }],
    helm: [{ match: 'version', stdout: fixture('helm/version-short-v4.stdout') }],
  });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(fake.dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  log.setVerbose(false);
});

const sub = (s: string, dir: string) => s.replaceAll('$D', dir);

function writeFiles(dir: string, files: Record<string, Entry>): void {
  for (const [name, entry] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof entry === 'string') writeFileSync(file, sub(entry, dir));
    else if (Buffer.isBuffer(entry)) writeFileSync(file, entry);
    else if ('link' in entry) symlinkSync(sub(entry.link, dir), file);
    else if ('dir' in entry) mkdirSync(file, { recursive: true });
    else {
      const r = spawnSync('mkfifo', [file]);
      if (r.status !== 0) throw new Error(`mkfifo ${file}: ${r.stderr.toString()}`);
    }
  }
}

/** The environment of every case: fakes first on PATH, a home of its own, no AMBIENT_* or KUBECONFIG from outside. */
function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('AMBIENT_')) env[k] = undefined;
  return {
    ...env,
    PATH: fake.path,
    HOME: home,
    AMBIENT_TOOL_CACHE: path.join(home, 'tools'),
    KUBECONFIG: undefined,
    XDG_CACHE_HOME: undefined,
  };
}

const callCount = () => TOOLS.map((t) => fake.calls(t).length);

async function runInProcess(c: BadInput, dir: string) {
  const env = {
    ...baseEnv(),
    ...Object.fromEntries(
      Object.entries(c.env ?? {}).map(([k, v]) => [k, v === undefined ? v : sub(v, dir)]),
    ),
  };
  return runMain(
    c.argv.map((a) => sub(a, dir)),
    env,
  );
}

const STACK = /^\s+at .*:\d+:\d+\)?$/m;

function matches(text: string, want: RegExp | string, dir: string, why?: string): void {
  if (typeof want === 'string') expect(text, why).toContain(sub(want, dir));
  else expect(text, why).toMatch(want);
}

describe('bad input: exit 2 (or 3), the offending thing named, what was expected, no stack trace', () => {
  it('has at least 170 cases, each with a unique name', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(170);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES)('$name', async (c) => {
    const dir = mkdtempSync(path.join(work, 'case-'));
    writeFiles(dir, c.files ?? {});
    const before = callCount();
    const r = await runInProcess(c, dir);
    const all = `${r.stdout}${r.stderr}`;
    const why = `argv ${JSON.stringify(c.argv)}\n--- stdout\n${r.stdout.slice(0, 3000)}\n--- stderr\n${r.stderr.slice(0, 3000)}`;
    expect(r.code, why).toBe(c.code);
    matches(r.stderr, c.names, dir, why);
    if (c.usage) {
      expect(r.stderr, why).toMatch(/^error: /m);
      expect(r.stderr, why).toContain('(add --help for usage)');
      if (c.expected !== undefined) matches(r.stderr, c.expected, dir, why);
    } else {
      const line = /^ {2}expected: (.+)$/m.exec(r.stderr);
      expect(line, why).not.toBeNull();
      if (c.expected !== undefined) matches(line?.[1] ?? '', c.expected, dir, why);
    }
    expect(all, why).not.toMatch(STACK);
    expect(all, why).not.toContain('internal error');
    // Control bytes from the input (a binary file) are escaped, never sent to the terminal.
    expect(all, why).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    if (c.code === 2 && !c.spawns) {
      // Refused before anything was spawned (no tool probe, no cluster call), and promptly.
      expect(callCount(), why).toEqual(before);
      expect(r.stdout, why).toBe('');
      expect(r.ms, why).toBeLessThan(5_000);
    }
    if (c.bounded !== undefined) expect(all.length, why).toBeLessThan(c.bounded);
  });

  it('leaves no verbose logging behind (the -v case is reset)', () => {
    const lines: string[] = [];
    const prev = log.setSink({ write: (l) => lines.push(l) });
    try {
      log.debug('debug line');
    } finally {
      log.setSink(prev);
    }
    expect(lines).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// the standalone globalSetup (vitest run --project conformance without the CLI) reads variables

describe('bad input: variables of the standalone globalSetup are refused before anything runs', () => {
  const project = { provide: () => undefined } as unknown as Parameters<typeof setupStandalone>[0];
  it.each([
    {
      name: 'AMBIENT_KEEP=yes',
      env: { AMBIENT_KEEP: 'yes' },
      names: 'invalid AMBIENT_KEEP',
      expected: '1 (on) or 0 (off); unset is off',
    },
    {
      name: 'AMBIENT_KEEP=true',
      env: { AMBIENT_KEEP: 'true' },
      names: 'invalid AMBIENT_KEEP',
      expected: '1 (on) or 0 (off)',
    },
    {
      name: 'AMBIENT_KEEP=2',
      env: { AMBIENT_KEEP: '2' },
      names: 'invalid AMBIENT_KEEP',
      expected: '1 (on) or 0 (off)',
    },
    {
      name: 'AMBIENT_PROFILE that does not exist',
      env: { AMBIENT_PROFILE: '$D/nope.yaml' },
      names: 'profile not found: $D/nope.yaml',
      expected: 'an existing, readable file',
    },
    {
      name: 'AMBIENT_CLUSTER_NAME with capitals',
      env: { AMBIENT_CLUSTER_NAME: 'Bad_Name' },
      names: 'AMBIENT_CLUSTER_NAME "Bad_Name" is not a valid kind cluster name',
      expected: 'at most 50 lowercase letters',
    },
    {
      name: 'AMBIENT_REPORTS_DIR under /proc',
      env: { AMBIENT_REPORTS_DIR: '/proc/reports' },
      names: 'AMBIENT_REPORTS_DIR /proc/reports is not a folder this run can write to',
      expected: 'an existing writable folder',
    },
    {
      name: 'AMBIENT_ONLY and AMBIENT_SKIP naming the same test (the variables are named, not the flags)',
      env: { AMBIENT_ONLY: 'INSTALL-01', AMBIENT_SKIP: 'INSTALL-01' },
      names: 'INSTALL-01 given to both AMBIENT_ONLY and AMBIENT_SKIP',
      expected: 'each test ID or prefix in one of AMBIENT_ONLY and AMBIENT_SKIP',
    },
    {
      name: 'AMBIENT_TIMEOUT_ misspelt',
      env: { AMBIENT_TIMEOUT_HELMINSTALL: '5m' },
      names: 'unknown environment variable AMBIENT_TIMEOUT_HELMINSTALL',
      expected: 'one of AMBIENT_TIMEOUT_<timeout>',
    },
  ])('$name', async (c) => {
    const dir = mkdtempSync(path.join(work, 'gs-'));
    const before = callCount();
    const env = {
      ...baseEnv(),
      AMBIENT_REPORTS_DIR: path.join(dir, 'reports'),
      ...Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, sub(v, dir)])),
    };
    const e: unknown = await withEnv(env, () => setupStandalone(project)).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UserInputError);
    const text = (e as UserInputError).render();
    expect((e as UserInputError).exitCode).toBe(2);
    expect(text).toContain(sub(c.names, dir));
    expect(/^ {2}expected: (.+)$/m.exec(text)?.[1]).toContain(c.expected);
    expect(text).not.toMatch(STACK);
    expect(callCount()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// the real binary, where only a process of its own shows it

describe.concurrent('bad input through the real binary (process exit code, memory, bounded output)', () => {
  const spawned = async (argv: string[], files: Record<string, Entry> = {}) => {
    const dir = mkdtempSync(path.join(work, 'bin-'));
    writeFiles(dir, files);
    const t0 = Date.now();
    const r = await execa(process.execPath, [BIN, ...argv.map((a) => sub(a, dir))], {
      reject: false,
      timeout: 60_000,
      extendEnv: false,
      // A run-away reader would take the memory of this worker; the child is capped instead.
      env: {
        PATH: fake.path,
        HOME: home,
        AMBIENT_TOOL_CACHE: path.join(home, 'tools'),
        NODE_OPTIONS: '--max-old-space-size=256',
      },
    });
    return { ...r, dir, ms: Date.now() - t0 };
  };
  const clean = (text: string, expect: ExpectStatic) => {
    expect(text).not.toMatch(STACK);
    expect(text).not.toContain('internal error');
  };

  it('--profile /dev/zero exits 2 at once, naming the file and the limit', async ({ expect }) => {
    const r = await spawned(['plan', '--profile', '/dev/zero']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('profile /dev/zero cannot be read');
    expect(r.stderr).toContain('  expected: a regular file of at most 1048576 bytes');
    expect(r.ms).toBeLessThan(30_000);
    clean(r.stderr, expect);
  });

  it('a YAML alias bomb as the profile exits 2 within the memory cap', async ({ expect }) => {
    const r = await spawned(['run', '--profile', '$D/p.yaml', '--reports-dir', '$D/r'], {
      'p.yaml': ALIAS_BOMB,
    });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`profile is not valid YAML: ${r.dir}/p.yaml`);
    expect(r.stderr).toContain('  expected: a YAML document');
    clean(r.stderr, expect);
  });

  it('a 900,000-character one-line profile is echoed bounded', async ({ expect }) => {
    const r = await spawned(['plan', '--profile', '$D/p.yaml'], { 'p.yaml': 'y'.repeat(900_000) });
    expect(r.exitCode, r.stderr.slice(0, 2000)).toBe(2);
    expect(r.stderr).toContain(`invalid profile ${r.dir}/p.yaml: (root)`);
    expect(r.stderr).toContain('… (900000 characters in all)');
    expect(r.stderr.length).toBeLessThan(1000);
    clean(r.stderr, expect);
  });

  it('a usage error reaches the process exit code (2) through bin/ and cli/entry.ts', async ({ expect }) => {
    const r = await spawned(['runn']);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'runn'");
    expect(r.stderr).toContain('(add --help for usage)');
    clean(r.stderr, expect);
  });
});
