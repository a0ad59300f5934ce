import type { Io } from './kind.ts';

/**
 * Entry of bin/{kind,helm,docker}: runs the tool on process.argv and exits with its code. Each tool's
 * module is loaded alone (helm's pulls in YAML and the chart inventories), so `kind version` or
 * `docker info` starts as fast as a small node program can.
 */
export async function main(tool: 'kind' | 'helm' | 'docker'): Promise<void> {
  const io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  let code: number;
  try {
    const argv = process.argv.slice(2);
    if (tool === 'kind') code = await (await import('./kind.ts')).kindMain(argv, io);
    else if (tool === 'helm') code = await (await import('./helm.ts')).helmMain(argv, io);
    else code = await (await import('./docker.ts')).dockerMain(argv, io);
  } catch (e) {
    io.err(
      `${tool === 'kind' ? 'ERROR: ' : tool === 'helm' ? 'Error: ' : ''}${e instanceof Error ? e.message : String(e)}\n`,
    );
    code = 1;
  }
  process.exitCode = code;
}
