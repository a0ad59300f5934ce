import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { completeProfile, EMBEDDED_PROFILE, readYamlFile, type LoadOptions, type Profile } from './core.ts';
import type { ProfileDoc } from './schema.ts';
import { SNAPSHOT_PATH, type ProfileSnapshot } from './snapshot.ts';

/**
 * loadProfile for the commands that start often (plan, run): the embedded profile, unchanged and
 * without --istio-version, is completed from its validated document on record (snapshot.ts)
 * instead of validating it again with zod, which costs about 70 ms of loading. Any other profile,
 * or an embedded one that differs from the record in any way, goes through load.ts. Same result
 * and same errors either way: the record is the schema's own output, and a test keeps it current.
 */
export async function loadProfileQuick(
  file: string | undefined,
  options: LoadOptions = {},
): Promise<Profile> {
  if (file === undefined && options.istioVersion === undefined) {
    const snap = readSnapshot();
    if (snap && isDeepStrictEqual(readYamlFile(EMBEDDED_PROFILE, 'profile'), snap.raw))
      return completeProfile(EMBEDDED_PROFILE, snap.doc as ProfileDoc, options);
  }
  const { loadProfile } = await import('./load.ts');
  return loadProfile(file, options);
}

function readSnapshot(): ProfileSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(SNAPSHOT_PATH, 'utf8')) as ProfileSnapshot;
  } catch {
    return undefined; // no record, or a broken one: validate instead
  }
}
