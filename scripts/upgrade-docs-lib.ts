/**
 * The samples in docs/upgrade-plan.md are the tool's own output. Each sample sits between
 *
 *   <!-- sample: upgrade plan <args> -->
 *   ```<lang>
 *   …output…
 *   ```
 *   <!-- /sample -->
 *
 * (Prettier puts a blank line on each side of the fence) and `fillSamples` replaces the fenced block with what `ambient-conformance upgrade plan <args>`
 * prints (`run` runs it: scripts/upgrade-docs.ts spawns the binary, the test runs main() in
 * process). Every sample passes --offline and --date, so the output does not depend on the
 * machine or the day.
 */
const SAMPLE =
  /(<!-- sample: upgrade plan ([^>]*?) -->\n\n?```(\w*)\n)([\s\S]*?)(```\n\n?<!-- \/sample -->)/g;

export async function fillSamples(doc: string, run: (args: string[]) => Promise<string>): Promise<string> {
  const parts: string[] = [];
  let last = 0;
  for (const m of doc.matchAll(SAMPLE)) {
    const args = (m[2] ?? '').trim().split(/\s+/);
    if (!args.includes('--offline') || !args.includes('--date'))
      throw new Error(`docs sample "upgrade plan ${m[2]}" must pass --offline and --date`);
    parts.push(doc.slice(last, m.index), m[1] ?? '', await run(args), m[5] ?? '');
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(doc.slice(last));
  return parts.join('');
}

/** The samples' arguments, in order. */
export function sampleArgs(doc: string): string[][] {
  return [...doc.matchAll(SAMPLE)].map((m) => (m[2] ?? '').trim().split(/\s+/));
}
