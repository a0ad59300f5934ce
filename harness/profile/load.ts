import type { z } from 'zod';
import path from 'node:path';
import { clip, UserInputError } from '../errors.ts';
import { checkIstioVersion } from '../istio/versions.ts';
import { closest } from '../suggest.ts';
import {
  bad,
  completeProfile,
  EMBEDDED_PROFILE,
  isPlainObject,
  readYamlFile,
  valueAt,
  type LoadOptions,
  type Profile,
} from './core.ts';
import { ProfileSchema } from './schema.ts';

export * from './core.ts';

/**
 * Loading a profile: read, validate against ProfileSchema (zod), then complete (core.ts). This
 * module is what loads zod; `plan` and `run` go through quick.ts, which skips it for the
 * embedded profile when its validated document is on record.
 */

function formatPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** Minimal view of zod 4's schema definitions, to list the fields a strict object knows. */
interface SchemaDef {
  type?: string;
  shape?: Record<string, { _zod: { def: SchemaDef } }>;
  element?: { _zod: { def: SchemaDef } };
  innerType?: { _zod: { def: SchemaDef } };
  in?: { _zod: { def: SchemaDef } };
  keyType?: { _zod: { def: SchemaDef } };
  entries?: Record<string, string>;
}

/** The field names the schema knows at `p` (an object's fields, or a record's enum keys). */
export function knownFieldsAt(p: PropertyKey[], schema: unknown = ProfileSchema): string[] {
  let def = (schema as { _zod: { def: SchemaDef } })._zod.def;
  const unwrap = () => {
    for (;;) {
      const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
      if (next === undefined) return;
      def = next._zod.def;
    }
  };
  unwrap();
  for (const k of p) {
    const next =
      typeof k === 'number' ? def.element : def.type === 'object' ? def.shape?.[String(k)] : undefined;
    if (next === undefined) return [];
    def = next._zod.def;
    unwrap();
  }
  if (def.type === 'object') return Object.keys(def.shape ?? {});
  if (def.type === 'record' && def.keyType?._zod.def.entries)
    return Object.values(def.keyType._zod.def.entries);
  return [];
}

function firstIssue(file: string, raw: unknown, error: z.ZodError): UserInputError {
  // A misspelt key also makes the real one "missing": name the misspelling, with the fix.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0];
  if (!issue) return bad(file, '(root)', 'a valid profile', raw);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  const where = issue.path.length ? formatPath(issue.path) : '(root)';
  if (issue.code === 'unrecognized_keys') {
    // A misspelt field would be dropped without a word: name it, where it is, and what is close.
    const known = knownFieldsAt(issue.path);
    const keys = issue.keys.map((k) => clip(k, 60));
    const field = formatPath([...issue.path, keys[0] ?? '']);
    const hints = keys.map((k) => {
      const near = closest(k, known);
      return near === undefined ? k : `${k} (did you mean ${near}?)`;
    });
    const fixes = keys.flatMap((k) => {
      const near = closest(k, known);
      return near === undefined ? [] : [`rename ${k} to ${near}`];
    });
    return new UserInputError(`invalid profile ${file}: ${field}${more}`, {
      expected: `only the fields ${where === '(root)' ? 'a profile' : where} knows: ${known.join(', ')}`,
      seen: `unknown field${keys.length > 1 ? 's' : ''} ${hints.join(', ')}`,
      ...(fixes.length ? { fix: fixes.join('; ') } : {}),
    });
  }
  let expected = issue.message;
  if (issue.code === 'invalid_type') expected = `a value of type ${issue.expected}`;
  else if (issue.code === 'invalid_value')
    expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  // A check may say what it saw and how to fix it (istio.version does).
  const params =
    issue.code === 'custom' ? (issue.params as { seen?: string; fix?: string } | undefined) : undefined;
  let found: unknown = params?.seen ?? valueAt(raw, issue.path);
  if (found === undefined) found = 'nothing (field missing)';
  return bad(file, `${where}${more}`, expected, found, params?.fix);
}

export function loadProfile(file: string | undefined, options: LoadOptions = {}): Profile {
  if (file === '')
    throw new UserInputError('--profile: no file named', {
      expected: 'the path of a profile YAML file',
      seen: 'an empty value',
    });
  // --istio-version first, by the same rules as istio.version, naming the flag.
  const flagVersion =
    options.istioVersion === undefined
      ? undefined
      : checkIstioVersion(options.istioVersion, { field: '--istio-version' });
  const source = path.resolve(file ?? EMBEDDED_PROFILE);
  const raw = readYamlFile(source, 'profile');
  if (options.istioVersion !== undefined && isPlainObject(raw) && isPlainObject(raw.istio)) {
    raw.istio.version = options.istioVersion;
  }
  const parsed = ProfileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw firstIssue(source, raw, parsed.error);
  return completeProfile(source, parsed.data, options, flagVersion);
}
