import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * Resolves a group given as a gid (number or numeric string) or a name, like go-plugin's
 * `PLUGIN_UNIX_SOCKET_GROUP` (hashicorp/go-plugin: server.go): `getent group <name>` first (it also sees
 * LDAP/NSS groups), then `/etc/group`.
 *
 * @returns the gid, or `undefined` when no such group exists.
 */
export async function lookupGroup(group: string | number): Promise<number | undefined> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  const viaGetent = await new Promise<number | undefined>((resolve) => {
    execFile('getent', ['group', group], { timeout: 5000 }, (error, stdout) => {
      if (error) return resolve(undefined);
      resolve(parseGroupLine(stdout.split('\n')[0] ?? '', group));
    });
  });
  if (viaGetent !== undefined) return viaGetent;
  try {
    const text = await readFile('/etc/group', 'utf8');
    for (const line of text.split('\n')) {
      const gid = parseGroupLine(line, group);
      if (gid !== undefined) return gid;
    }
  } catch {
    // No /etc/group (some containers): the group is unknown.
  }
  return undefined;
}

function parseGroupLine(line: string, name: string): number | undefined {
  const [groupName, , gid] = line.split(':');
  if (groupName !== name || gid === undefined || !/^\d+$/.test(gid)) return undefined;
  return Number(gid);
}
