import { OperationError, UserInputError } from '../errors.ts';
import { readManifests } from './manifests.ts';
import { countCells, ReachabilityModel } from './model.ts';
import { expectedChunks, LEGEND } from './render.ts';
import type { Cell } from './types.ts';

/**
 * `ambient-conformance netpol matrix`: reads the manifests, refuses what the API server would refuse,
 * and prints the predicted matrix (tables, --explain reasons, or --json). The CLI imports this module
 * only when the command runs.
 */

/**
 * The most cells (sources × destinations × ports) one run evaluates. Measured on this project's
 * 2-CPU development machine with synthetic pods (one port each, ten namespaces and policies):
 * 250,000 cells (500 pods) evaluate in 1.5 s to 86 MB of --json, 0.7 s with --explain and 0.15 s
 * as tables, at about 125 MB of memory; the whole command (Node start, reading, output to a file)
 * takes 3 to 7 s depending on load. Output streams cell by cell, so memory does not grow with the
 * matrix, but time and output size do: 1,000 pods would be 1,000,000 cells and 345 MB of JSON.
 * Above the limit the run is refused right after reading, before the model is built (20,000 pods in
 * 4.4 MB of JSON: refused within seconds, at about 330 MB).
 */
export const MATRIX_CELL_LIMIT = 250_000;

export interface MatrixFlags {
  file: string[];
  port?: string[];
  json?: boolean;
  explain?: boolean;
  /** --host-traffic: whether the CNI judges SNATed connections from the node (default judged). */
  hostTraffic?: 'judged' | 'exempt';
}

/**
 * Writes many small strings to a stream in chunks of about 64 KiB, waiting for 'drain' when the
 * stream is full. A stream that fails (EPIPE: the reader went away, as with `| head`) ends the
 * output quietly instead of throwing.
 */
export class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;
  private failed = false;
  /** The stream's first error other than EPIPE (the reader going away, which is not a failure). */
  error: NodeJS.ErrnoException | undefined;
  private readonly stream: NodeJS.WritableStream;
  private readonly chunk: number;
  constructor(stream: NodeJS.WritableStream, chunk = 64 * 1024) {
    this.stream = stream;
    this.chunk = chunk;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      this.failed = true;
      if (e.code !== 'EPIPE') this.error ??= e;
    });
  }

  get closed(): boolean {
    return this.failed;
  }

  async write(s: string): Promise<void> {
    if (this.failed) return;
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= this.chunk) await this.flush();
  }

  /**
   * Writes what is buffered. With `settle`, waits until the stream has taken it (its write
   * callback), so that an error such as ENOSPC is known before the command reports success.
   */
  async flush(settle = false): Promise<void> {
    if (this.failed) return;
    const data = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (settle) {
      await new Promise<void>((resolve) => {
        const ok = this.stream.write(data, (e) => {
          if (e && (e as NodeJS.ErrnoException).code !== 'EPIPE') this.error ??= e as NodeJS.ErrnoException;
          resolve();
        });
        if (!ok && (this.stream as { destroyed?: boolean }).destroyed) resolve();
      });
      return;
    }
    if (!data.length) return;
    if (this.stream.write(data)) return;
    // A destroyed stream emits nothing more: waiting for 'drain' would hang.
    if ((this.stream as { destroyed?: boolean }).destroyed) {
      this.failed = true;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
      this.stream.on('close', done);
    });
  }
}

function parsePorts(values: string[]): number[] {
  return values.map((p) => {
    const n = Number(p);
    if (!/^[0-9]+$/.test(p) || n < 1 || n > 65535)
      throw new UserInputError(`--port ${p} is not a port`, {
        expected: 'an integer from 1 to 65535',
        seen: p,
      });
    return n;
  });
}

/** One cell as --json prints it: the order and indentation of JSON.stringify({cells}, null, 2). */
function cellJson(c: Cell): string {
  const wire = {
    from: c.from,
    to: c.to,
    port: c.port,
    protocol: c.protocol,
    allowed: c.allowed,
    outcome: c.outcome,
    judgedPort: c.judgedPort,
    reason: c.reason,
  };
  return `    ${JSON.stringify(wire, null, 2).replaceAll('\n', '\n    ')}`;
}

function roleLine(model: ReachabilityModel, i: number): string {
  const p = model.pods[i];
  if (model.role[i] === 'sidecar') {
    const hbone = (p?.labels['networking.istio.io/tunnel'] ?? '').split(',').includes('http');
    return `sidecar (an injected Istio proxy${hbone ? '; an HBONE endpoint: networking.istio.io/tunnel=http' : ''})`;
  }
  return `${model.enrolled[i] ? 'ambient' : 'not enrolled'} (${model.enrollmentWhy[i] ?? ''})`;
}

export async function netpolMatrix(
  flags: MatrixFlags,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const ports = [...new Set(parsePorts(flags.port ?? []))];
  const { state, ignored, files, warnings } = readManifests(flags.file);
  for (const w of warnings) stderr.write(`warning: ${w}\n`);
  if (!state.pods.length)
    throw new UserInputError('no Pod objects found in the manifests', {
      expected: 'Pods (with status.podIP and container ports), Namespaces and NetworkPolicies',
      seen: `${files.length} file(s); ${
        Object.entries(ignored)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'no objects'
      }`,
    });
  const count = countCells(state.pods, ports);
  if (count > MATRIX_CELL_LIMIT) {
    const n = state.pods.filter((p) => !p.hostNetwork).length;
    const hosts = state.pods.length - n;
    throw new UserInputError(
      `the matrix would have ${count.toLocaleString('en-US')} cells, more than the limit of ${MATRIX_CELL_LIMIT.toLocaleString('en-US')}`,
      {
        expected: `at most ${MATRIX_CELL_LIMIT.toLocaleString('en-US')} cells (sources × destinations × ports), which evaluate in a few seconds`,
        seen: `${n} pods (not on the host network) × ${n - 1} destinations each${hosts ? ` (and ${hosts} host-network pod(s) as sources of ${n} each)` : ''} × ${
          ports.length ? `${ports.length} port(s) given with --port` : 'each destination’s container ports'
        } = ${count.toLocaleString('en-US')} cells`,
        fix: 'narrow the question: --port <n> evaluates one port instead of every container port; pass fewer files or folders (only the namespaces you ask about, with their policies)',
      },
    );
  }
  const hostTraffic = flags.hostTraffic ?? 'judged';
  const model = new ReachabilityModel(state, { hostTraffic });
  const out = new ChunkedWriter(stdout);
  if (flags.json) {
    let first = true;
    await out.write(`{\n  "hostTraffic": ${JSON.stringify(hostTraffic)},\n  "cells": [`);
    for (const c of model.cells(ports)) {
      await out.write(`${first ? '\n' : ',\n'}${cellJson(c)}`);
      first = false;
      if (out.closed) break;
    }
    await out.write(first ? ']\n}\n' : '\n  ]\n}\n');
  } else {
    for (let i = 0; i < model.pods.length; i++) {
      const p = model.pods[i];
      await out.write(`${i ? '\n' : ''}${p?.namespace ?? ''}/${p?.name ?? ''}: ${roleLine(model, i)}`);
    }
    for (const h of model.hostSources)
      await out.write(
        `\n${h.key}: ${
          h.kind === 'kubelet'
            ? 'the kubelet probing each pod that declares network probes, from that pod’s node'
            : `host network${h.pod?.nodeName ? ` on node ${h.pod.nodeName}` : ', node not given'}: a source only (NetworkPolicy does not select it)`
        }`,
      );
    if (model.hostSources.length)
      await out.write(
        `\nhost traffic: ${hostTraffic}${flags.hostTraffic ? '' : ' (the default)'}: ${
          hostTraffic === 'judged'
            ? 'the CNI judges connections from a node to its enrolled pods by their SNATed source 169.254.7.127 (--host-traffic exempt for kindnet)'
            : 'the CNI accepts connections from a node’s root-owned sockets without NetworkPolicy (kindnet)'
        }`,
      );
    await out.write('\n\n');
    let any = false;
    for (const chunk of expectedChunks(model, ports)) {
      any = true;
      await out.write(chunk);
      if (out.closed) break;
    }
    if (!any)
      await out.write(
        `no cells: no source has a connection to evaluate${ports.length ? ` on TCP ${ports.join(', ')}` : ''} (each destination's TCP container ports, or --port, and the kubelet's probed ports)`,
      );
    await out.write(`\n\n${LEGEND}\n`);
    if (flags.explain) {
      await out.write('\n');
      let first = true;
      for (const c of model.cells(ports)) {
        await out.write(
          `${first ? '' : '\n'}${c.from} -> ${c.to}:${c.port} ${c.outcome.toUpperCase()}: ${c.reason}`,
        );
        first = false;
        if (out.closed) break;
      }
      await out.write('\n');
    }
  }
  await out.flush(true);
  if (out.error)
    throw new OperationError(`netpol matrix: could not write the output: ${out.error.message}`, {
      seen: out.error.code ?? out.error.message,
      fix: 'check the file or pipe the output goes to (a full disk, a closed descriptor)',
    });
  const skipped = Object.entries(ignored);
  if (skipped.length) stderr.write(`ignored: ${skipped.map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
  return 0;
}
