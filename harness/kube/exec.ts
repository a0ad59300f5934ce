import { Writable } from 'node:stream';
import { Exec, type V1Status } from '@kubernetes/client-node';
import { asInterrupted, errorText } from '../errors.ts';
import type { KubeClients } from './client.ts';

export interface ExecOutput {
  stdout: string;
  stderr: string;
  /** Exit code from the remotecommand status (0 on Success; the ExitCode cause otherwise). */
  exitCode: number;
  status?: V1Status;
}

class Collect extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Exit code from a remotecommand V1Status: {status: Failure, details: {causes: [{reason: ExitCode, message: "56"}]}}. */
export function exitCodeOf(status: V1Status | undefined): number {
  if (!status) return -1;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = Number(cause?.message);
  return Number.isFinite(n) ? n : 1;
}

/**
 * Runs a command in a pod container through the API server (WebSocket exec), with a deadline.
 * `kube.signal` cancels it (the WebSocket is closed; rejects with an InterruptedError).
 */
export async function execInPod(
  kube: KubeClients,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  timeoutMs: number,
): Promise<ExecOutput> {
  const stdout = new Collect();
  const stderr = new Collect();
  const exec = new Exec(kube.kc);
  return new Promise<ExecOutput>((resolve, reject) => {
    let done = false;
    // The WebSocket, once open; closed when the deadline passes so no remote shell is left behind.
    let socket: { close(): void } | undefined;
    let expired = false;
    const what = `exec in ${namespace}/${pod}: ${command.slice(0, 3).join(' ')}…`;
    const deadline = AbortSignal.timeout(timeoutMs);
    const stop = kube.signal ? AbortSignal.any([deadline, kube.signal]) : deadline;
    const onAbort = () => {
      expired = true;
      socket?.close();
      if (done) return;
      done = true;
      reject(
        kube.signal?.aborted
          ? asInterrupted(kube.signal, what)
          : new Error(
              `exec in ${namespace}/${pod} timed out after ${Math.round(timeoutMs / 1000)}s: ${command.slice(0, 3).join(' ')}…`,
            ),
      );
    };
    if (stop.aborted) {
      onAbort();
      return;
    }
    stop.addEventListener('abort', onAbort, { once: true });
    exec
      .exec(namespace, pod, container, command, stdout, stderr, null, false, (status) => {
        if (done) return;
        done = true;
        resolve({ stdout: stdout.text(), stderr: stderr.text(), exitCode: exitCodeOf(status), status });
      })
      .then((ws) => {
        // The socket type comes from isomorphic-ws, which ships no types here.
        const s = ws as unknown as { on(event: 'close', cb: () => void): void; close(): void };
        socket = s;
        if (expired) s.close();
        s.on('close', () => {
          if (done) return;
          done = true;
          resolve({ stdout: stdout.text(), stderr: stderr.text(), exitCode: -1 });
        });
      })
      .catch((e: unknown) => {
        if (done) return;
        done = true;
        reject(e instanceof Error ? e : new Error(`${what}: ${errorText(e)}`));
      });
  });
}
