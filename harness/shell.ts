/**
 * One argument as a POSIX shell word: left bare when it holds only characters no shell treats
 * specially (letters, digits and `_ . / : = @ % , + -`), else in single quotes, each `'` written
 * `'\''`. For commands printed for people to copy (the plan, reproduction lines), never for
 * running them: commands run through execa with an argv.
 */
export function shellQuote(arg: string): string {
  return arg !== '' && /^[A-Za-z0-9_./:=@%,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one line a POSIX shell runs as the same argv. */
export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}
