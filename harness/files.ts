import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  realpathSync,
  statfsSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { clip, UserInputError } from './errors.ts';

/**
 * Files and folders named by the user, checked before they are used: a file is read only when it
 * is a regular file under a size limit, and a folder the run writes to must be one it can write.
 */

const MiB = 1024 * 1024;

/**
 * Largest profile, Helm values file or kind cluster config read (1 MiB). Istio's own chart
 * defaults are a few tens of KiB; anything larger is not something a person wrote, and reading it
 * whole could take all the memory (`--profile /dev/zero`).
 */
export const USER_FILE_MAX_BYTES = MiB;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a file the user named, as UTF-8 text: refuses anything but a regular file, and files above
 * `maxBytes`, naming the file, the limit and the size, before reading. Files that report no size
 * (those under /proc) are read only up to the limit.
 */
export function readUserFile(file: string, what: string, maxBytes = USER_FILE_MAX_BYTES): string {
  const refuse = (seen: string, expected = `a regular file of at most ${maxBytes} bytes`) =>
    new UserInputError(`${what} ${file} cannot be read`, { expected, seen });
  if (!existsSync(file))
    throw new UserInputError(`${what} not found: ${file}`, {
      expected: 'an existing, readable file',
      seen: 'no such file',
      fix: 'check the path; relative paths are resolved from the profile file’s folder',
    });
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw refuse(`unreadable: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isFile()) throw refuse(kindOf(st));
  if (st.size > maxBytes) throw refuse(`${st.size} bytes (limit ${maxBytes})`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw refuse(`unreadable: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    // The size can change between stat and read (or be reported as 0): read at most limit + 1.
    if (!fstatSync(fd).isFile()) throw refuse('not a regular file');
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > maxBytes) throw refuse(`more than ${maxBytes} bytes`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Pseudo filesystems nothing should be written to (statfs f_type; torvalds/linux
 * include/uapi/linux/magic.h): proc, sysfs, debugfs, securityfs, cgroup, devpts, pstore, efivarfs,
 * binfmt_misc, selinuxfs.
 */
const SPECIAL_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x1cd1, 'devpts'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0xf97cff8c, 'selinuxfs'],
]);

/** Kernel and device trees: never a place for reports, whatever filesystem backs them. */
const SPECIAL_TREES = ['/proc', '/sys', '/dev'];

function under(p: string, root: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

export interface DirProbe {
  access: (p: string, mode: number) => void;
  fsType: (p: string) => number | undefined;
}

const realProbe: DirProbe = {
  access: (p, mode) => accessSync(p, mode),
  fsType: (p) => {
    try {
      return statfsSync(p).type;
    } catch {
      return undefined;
    }
  },
};

/**
 * Checks that `dir` is, or can be created as, a folder this process can write to, without creating
 * anything (plan must not write): its nearest existing ancestor must be a folder that is writable
 * and not on a kernel pseudo filesystem. `name` is the flag or variable that named it.
 */
export function checkWritableDir(dir: string, name: string, probe: DirProbe = realProbe): void {
  const shown = clip(dir);
  const refuse = (seen: string, fix?: string) =>
    new UserInputError(`${name} ${shown} is not a folder this run can write to`, {
      expected: 'an existing writable folder, or a path whose nearest existing parent is one',
      seen,
      ...(fix === undefined ? {} : { fix }),
    });
  if (dir === '') throw refuse('an empty value');
  const abs = path.resolve(dir);
  let existing = abs;
  while (!existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  let st: Stats;
  try {
    st = statSync(existing);
  } catch (e) {
    throw refuse(`${existing}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!st.isDirectory()) {
    const what = st.isFile() ? 'a file' : kindOf(st);
    throw refuse(
      existing === abs ? what : `${existing} is ${what}, so nothing can be created under it`,
      'name a folder (it is created if missing)',
    );
  }
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // keep the path as given
  }
  const tree = SPECIAL_TREES.find((t) => under(real, t) || under(abs, t));
  const fs = probe.fsType(real);
  const special = fs === undefined ? undefined : SPECIAL_FS.get(fs);
  if (tree !== undefined || special !== undefined)
    throw refuse(
      special !== undefined
        ? `${real} is on ${special}, a kernel pseudo filesystem`
        : `${real} is under ${tree}`,
      'name a folder on a real filesystem, e.g. ./reports',
    );
  try {
    probe.access(existing, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw refuse(
      `${existing} is not writable (${code}${code === 'EROFS' ? ': read-only filesystem' : ''})`,
      'name a folder you can write to',
    );
  }
}
