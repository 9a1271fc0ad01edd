import { execFileSync } from 'node:child_process';

/**
 * Fails the interop run when a test left a child process behind: every process whose parent chain leads back
 * to this test run, other than vitest's own workers, is a leak.
 */
export default function setup(): () => void {
  return () => {
    const leftovers = descendants(process.pid).filter(
      (proc) => !/vitest|tinypool|^ps -eo/.test(proc.command),
    );
    if (leftovers.length > 0) {
      const list = leftovers.map((proc) => `  ${proc.pid} ${proc.command}`).join('\n');
      throw new Error(`interop tests left child processes running:\n${list}`);
    }
  };
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  command: string;
}

function descendants(root: number): ProcessEntry[] {
  const output = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const table: ProcessEntry[] = output
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((match): match is RegExpMatchArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), command: match[3] ?? '' }));
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
