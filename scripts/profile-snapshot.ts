// Writes profiles/homelab/profile.validated.json: the embedded profile and its validated document.
import { writeFileSync } from 'node:fs';
import { EMBEDDED_PROFILE, readYamlFile } from '../harness/profile/core.ts';
import { ProfileSchema } from '../harness/profile/schema.ts';
import { SNAPSHOT_PATH, snapshotText } from '../harness/profile/snapshot.ts';

const raw = readYamlFile(EMBEDDED_PROFILE, 'profile');
writeFileSync(SNAPSHOT_PATH, snapshotText(raw, ProfileSchema.parse(raw)));
