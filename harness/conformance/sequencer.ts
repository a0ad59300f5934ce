import type { TestSpecification } from 'vitest/node';
import { BaseSequencer } from 'vitest/node';

/**
 * Suite files run one at a time in this order. Removal uninstalls the mesh, so it must be last;
 * install checks come first. A suite file not listed runs before removal, in name order.
 */
export const SUITE_ORDER = ['install', 'netpol', 'mtls', 'authz', 'budget', 'removal'] as const;

export function suiteOf(file: string): string {
  const m = /suites\/([^/]+)\//.exec(file.replaceAll('\\', '/'));
  return m?.[1] ?? '';
}

export function suiteRank(file: string): number {
  const s = suiteOf(file);
  if (s === 'removal') return 1000;
  const i = (SUITE_ORDER as readonly string[]).indexOf(s);
  return i === -1 ? 500 : i;
}

export function orderFiles(files: string[]): string[] {
  return [...files].sort((a, b) => suiteRank(a) - suiteRank(b) || a.localeCompare(b));
}

export default class SuiteOrderSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const order = orderFiles(files.map((f) => f.moduleId));
    return Promise.resolve([...files].sort((a, b) => order.indexOf(a.moduleId) - order.indexOf(b.moduleId)));
  }
  override shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve(files);
  }
}
