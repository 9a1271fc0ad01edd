/**
 * Stage 6: Penlight's `path.abspath` and `path.normpath` on POSIX (`lunarmodules/Penlight@1.14.0:
 * lua/pl/path.lua`), as Kong applies them to `prefix` (spec §5). Pure: the working directory is an argument.
 */

/**
 * Penlight's `normpath`: runs of `/` collapse, except a leading `//` (exactly two) which POSIX keeps; `.`
 * segments go; `..` removes the previous segment lexically (kept when there is none); empty becomes `.`.
 */
export function normpath(path: string): string {
  let anchor = '';
  let rest = path;
  if (path.startsWith('//') && path[2] !== '/') {
    anchor = '//';
    rest = path.slice(2);
  } else if (path.startsWith('/')) {
    anchor = '/';
    rest = path.replace(/^\/+/, '');
  }
  const parts: string[] = [];
  for (const part of rest.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else parts.push(part);
    } else parts.push(part);
  }
  const result = anchor + parts.join('/');
  return result === '' ? '.' : result;
}

/**
 * Penlight's `abspath(P, pwd)`: one trailing `/` or `\` removed, a relative path joined to `cwd`, then
 * {@link normpath}.
 *
 * @returns the normalized path, or `undefined` when the path is relative and no `cwd` is given.
 */
export function abspath(path: string, cwd: string | undefined): string | undefined {
  let p = path.replace(/[\\/]$/, '');
  if (!p.startsWith('/')) {
    if (cwd === undefined) return undefined;
    const last = cwd[cwd.length - 1];
    p = (last === '/' || last === undefined ? cwd : `${cwd}/`) + p;
  }
  return normpath(p);
}
