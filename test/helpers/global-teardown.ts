import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SOCKET_TEST_ROOT } from './socket.js';

/**
 * Fails the interop run when a test left something behind:
 * - a child process: every running process whose parent chain leads back to this test run, other than
 *   vitest's own workers (zombies are dead and only wait to be reaped, so they do not count);
 * - an orphan: a running process started from this checkout's fixtures (`test/fixtures/`) that escaped the
 *   parent chain because its parent died and it was reparented to init;
 * - a socket file under the socket tests' temporary root.
 */
export default function setup(): () => void {
  return () => {
    const table = processTable();
    const leftovers = descendants(table, process.pid).filter(
      (proc) => !/vitest|tinypool|^ps -eo/.test(proc.command),
    );
    const fixtures = join(ROOT, 'test/fixtures/');
    const orphans = table.filter(
      (proc) => proc.command.includes(fixtures) && !leftovers.some((leftover) => leftover.pid === proc.pid),
    );
    const sockets = socketFiles(SOCKET_TEST_ROOT);
    rmSync(SOCKET_TEST_ROOT, { recursive: true, force: true });
    const problems: string[] = [];
    if (leftovers.length > 0) {
      problems.push(`interop tests left child processes running:\n${format(leftovers)}`);
    }
    if (orphans.length > 0)
      problems.push(`interop tests left orphaned fixture processes running:\n${format(orphans)}`);
    if (sockets.length > 0)
      problems.push(`interop tests left socket files:\n${sockets.map((s) => `  ${s}`).join('\n')}`);
    if (problems.length > 0) {
      // Vitest 4 prints an error thrown from a global teardown ("error during close") but still exits 0, so
      // the exit status is set as well: the leak must fail the run.
      process.exitCode = 1;
      throw new Error(problems.join('\n'));
    }
  };
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  command: string;
}

function format(entries: ProcessEntry[]): string {
  return entries.map((proc) => `  ${proc.pid} ${proc.command}`).join('\n');
}

function processTable(): ProcessEntry[] {
  const output = execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { encoding: 'utf8' });
  return output
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/))
    .filter((match): match is RegExpMatchArray => match !== null && !match[3]?.startsWith('Z'))
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), command: match[4] ?? '' }));
}

function descendants(table: ProcessEntry[], root: number): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop();
    for (const entry of table) {
      if (entry.ppid === parent && entry.pid !== root) {
        found.push(entry);
        frontier.push(entry.pid);
      }
    }
  }
  return found;
}

function socketFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry);
    try {
      const stats = lstatSync(path);
      if (stats.isSocket()) found.push(path);
      else if (stats.isDirectory()) found.push(...socketFiles(path));
    } catch {
      // Removed meanwhile.
    }
  }
  return found;
}
