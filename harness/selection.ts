import { InvalidArgumentError } from 'commander';

/** Comma-separated or repeated values: --only INSTALL-01,INSTALL-02 --only NETPOL-* */
export function collectList(value: string, previous: string[] = []): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  // An empty selection would silently select everything.
  if (items.length === 0)
    throw new InvalidArgumentError(
      'expected test IDs or SUITE-* prefixes, comma-separated; seen an empty value',
    );
  return [...previous, ...items];
}
