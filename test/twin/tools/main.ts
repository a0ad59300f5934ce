import { dockerMain } from './docker.ts';
import { helmMain } from './helm.ts';
import { kindMain, type Io } from './kind.ts';

/** Entry of bin/{kind,helm,docker}: runs the tool on process.argv and exits with its code. */
export async function main(tool: 'kind' | 'helm' | 'docker'): Promise<void> {
  const io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  const run = { kind: kindMain, helm: helmMain, docker: dockerMain }[tool];
  let code: number;
  try {
    code = await run(process.argv.slice(2), io);
  } catch (e) {
    io.err(
      `${tool === 'kind' ? 'ERROR: ' : tool === 'helm' ? 'Error: ' : ''}${e instanceof Error ? e.message : String(e)}\n`,
    );
    code = 1;
  }
  process.exitCode = code;
}
