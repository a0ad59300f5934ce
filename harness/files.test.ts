import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from './errors.ts';
import { checkWritableDir, readUserFile, USER_FILE_MAX_BYTES, type DirProbe } from './files.ts';

function refusal(fn: () => unknown): UserInputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a UserInputError');
}

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'files-'));

describe('files the user names are read only when bounded', () => {
  it('reads a regular file', () => {
    const f = path.join(tmp(), 'p.yaml');
    writeFileSync(f, 'a: 1\n');
    expect(readUserFile(f, 'profile')).toBe('a: 1\n');
  });

  it.each([
    ['/dev/zero', 'a character device'],
    ['/dev/null', 'a character device'],
  ])('refuses %s before reading it (%s)', (f, kind) => {
    const e = refusal(() => readUserFile(f, 'profile'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`profile ${f} cannot be read`);
    expect(e.details.seen).toBe(kind);
    expect(e.details.expected).toBe(`a regular file of at most ${USER_FILE_MAX_BYTES} bytes`);
  });

  it('refuses a folder and a FIFO (which would block the read forever)', () => {
    const dir = tmp();
    expect(refusal(() => readUserFile(dir, 'profile')).details.seen).toBe('a folder');
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(refusal(() => readUserFile(fifo, 'values file of release istiod')).details.seen).toBe(
      'a FIFO (named pipe)',
    );
  });

  it('refuses a file above the limit, naming the limit and the size, without reading it', () => {
    const f = path.join(tmp(), 'big.yaml');
    writeFileSync(f, '');
    truncateSync(f, 20 * 1024 * 1024); // sparse: 20 MiB that were never written
    const e = refusal(() => readUserFile(f, 'profile'));
    expect(e.details.seen).toBe(`${20 * 1024 * 1024} bytes (limit ${USER_FILE_MAX_BYTES})`);
    expect(USER_FILE_MAX_BYTES).toBe(1024 * 1024);
  });

  it.skipIf(process.platform !== 'linux')(
    'reads a file that reports no size (procfs) only up to the limit',
    () => {
      expect(readUserFile('/proc/self/status', 'profile', 1 << 20)).toContain('Name:');
      const e = refusal(() => readUserFile('/proc/self/status', 'profile', 16));
      expect(e.details.seen).toBe('more than 16 bytes');
    },
  );

  it('a missing file is named', () => {
    expect(refusal(() => readUserFile('/nonexistent/p.yaml', 'profile')).message).toBe(
      'profile not found: /nonexistent/p.yaml',
    );
  });
});

describe('folders the run writes to', () => {
  it('accepts an existing folder and a path to be created under one', () => {
    const dir = tmp();
    expect(() => checkWritableDir(dir, '--reports-dir')).not.toThrow();
    expect(() => checkWritableDir(path.join(dir, 'a', 'b'), '--reports-dir')).not.toThrow();
  });

  it('refuses a file, and a path under a file', () => {
    const f = path.join(tmp(), 'file');
    writeFileSync(f, 'x');
    const e = refusal(() => checkWritableDir(f, '--reports-dir'));
    expect(e.message).toBe(`--reports-dir ${f} is not a folder this run can write to`);
    expect(e.details.seen).toBe('a file');
    expect(refusal(() => checkWritableDir(path.join(f, 'sub'), '--reports-dir')).details.seen).toBe(
      `${f} is a file, so nothing can be created under it`,
    );
  });

  it.each(['/proc', '/proc/self/fd/new', '/sys/kernel', '/dev/shm/reports', '/dev'])(
    'refuses %s (kernel and device trees)',
    (d) => {
      const e = refusal(() => checkWritableDir(d, '--reports-dir'));
      expect(e.details.seen).toMatch(/is (under \/(proc|sys|dev)|on (proc|sysfs))/);
      expect(e.details.fix).toContain('real filesystem');
    },
  );

  it('refuses a pseudo filesystem mounted elsewhere (statfs type)', () => {
    const probe: DirProbe = { access: () => undefined, fsType: () => 0x9fa0 };
    expect(refusal(() => checkWritableDir(tmp(), '--reports-dir', probe)).details.seen).toMatch(
      /is on proc, a kernel pseudo filesystem$/,
    );
  });

  it('refuses a folder it cannot write to, naming the reason (read-only filesystem, permissions)', () => {
    const dir = tmp();
    for (const code of ['EROFS', 'EACCES']) {
      const probe: DirProbe = {
        access: () => {
          throw Object.assign(new Error(code), { code });
        },
        fsType: () => undefined,
      };
      const e = refusal(() => checkWritableDir(path.join(dir, 'reports'), '--reports-dir', probe));
      expect(e.details.seen).toBe(
        `${dir} is not writable (${code}${code === 'EROFS' ? ': read-only filesystem' : ''})`,
      );
    }
  });

  it('refuses an empty value', () => {
    expect(refusal(() => checkWritableDir('', '--reports-dir')).details.seen).toBe('an empty value');
  });

  it('names a variable as well as a flag', () => {
    const f = path.join(tmp(), 'f');
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, '');
    expect(refusal(() => checkWritableDir(f, 'AMBIENT_TOOL_CACHE')).message).toMatch(/^AMBIENT_TOOL_CACHE /);
  });
});
