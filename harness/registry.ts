import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toolCacheDir } from './tools.ts';

/**
 * Which kind clusters this tool created, so a sweep can delete the stale ones (their run died
 * without cleanup) and leave running and kept ones alone. kind clusters carry no labels of ours,
 * so ownership is recorded here: <cache>/clusters/<name>.json.
 */
export const CLUSTER_PREFIX = 'ambient-conformance-';

export interface ClusterRecord {
  name: string;
  runId: string;
  pid: number;
  createdAt: string;
  kept: boolean;
}

export function registryDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(toolCacheDir(env)), 'clusters');
}

export function recordCluster(dir: string, rec: ClusterRecord): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${rec.name}.json`), JSON.stringify(rec, null, 2));
}

export function forgetCluster(dir: string, name: string): void {
  rmSync(path.join(dir, `${name}.json`), { force: true });
}

export function readRecords(dir: string): ClusterRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ClusterRecord];
      } catch {
        return [];
      }
    });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stale: a cluster named with our prefix, recorded as ours, not kept, whose run's process is gone.
 * Clusters with our prefix but no record are left alone (someone else may own them).
 */
export function staleClusters(
  existing: string[],
  records: ClusterRecord[],
  alive: (pid: number) => boolean = isAlive,
  current?: string,
): string[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  return existing.filter((name) => {
    if (!name.startsWith(CLUSTER_PREFIX) || name === current) return false;
    const rec = byName.get(name);
    return rec !== undefined && !rec.kept && !alive(rec.pid);
  });
}
