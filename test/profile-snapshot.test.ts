import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_PROFILE, readYamlFile } from '../harness/profile/core.ts';
import { loadProfile } from '../harness/profile/load.ts';
import { loadProfileQuick } from '../harness/profile/quick.ts';
import { ProfileSchema } from '../harness/profile/schema.ts';
import { SNAPSHOT_PATH, snapshotText } from '../harness/profile/snapshot.ts';

describe('the embedded profile’s validated document on record', () => {
  it('is current: npm run profile:snapshot writes exactly this file', () => {
    const raw = readYamlFile(EMBEDDED_PROFILE, 'profile');
    expect(readFileSync(SNAPSHOT_PATH, 'utf8')).toBe(snapshotText(raw, ProfileSchema.parse(raw)));
  });
  it('survives JSON: the record completes to the same profile as validating does', async () => {
    const env = { AMBIENT_TIMEOUT_POD_READY: '7m' };
    const quick = await loadProfileQuick(undefined, { env });
    const full = loadProfile(undefined, { env });
    expect(quick).toEqual(full);
    expect(JSON.stringify(quick)).toBe(JSON.stringify(full));
  });
  it('is not used for another profile or with --istio-version', async () => {
    await expect(loadProfileQuick(undefined, { istioVersion: 'latest' })).rejects.toThrow('--istio-version');
    await expect(loadProfileQuick('/nonexistent/p.yaml')).rejects.toThrow('profile not found');
  });
});
