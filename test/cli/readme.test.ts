/**
 * Runs every command of the README's command-line block (`<!-- cli section -->`) with the built binary in
 * place of `npx pluginwire`, so the README cannot show a command that does not work.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/socket.js';

function readmeCommands(): { args: string[]; stdin: string | undefined }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- cli section -->');
  const block = readme.slice(start).match(/```sh\n([\s\S]*?)```/)?.[1];
  if (start < 0 || block === undefined) throw new Error('no sh block after <!-- cli section -->');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('npx pluginwire '))
    .map((line) => {
      const [command, stdin] = line.slice('npx pluginwire '.length).split(' < ');
      // Shell words: plain words and single-quoted strings (all the block uses).
      const args = [...(command ?? '').matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
      return { args, stdin };
    });
}

beforeAll(() => ensureCliBuilt(), 120_000);

describe('the README’s pluginwire commands', () => {
  const commands = readmeCommands();

  it('shows kong-conf, handshake and decode', () => {
    expect(commands.map((c) => c.args[0])).toEqual(['kong-conf', 'handshake', 'decode']);
  });

  it.each(commands.map((c) => [c.args.join(' '), c] as const))(
    'pluginwire %s exits 0',
    async (_name, command) => {
      const input = command.stdin === undefined ? '' : readFileSync(join(ROOT, command.stdin.trim()), 'utf8');
      const run = await runCli(command.args, { input, cwd: ROOT });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout.length).toBeGreaterThan(0);
    },
  );

  it('decodes the bundled capture into the seven messages of one access event', async () => {
    const input = readFileSync(join(ROOT, 'examples/kong-capture.hex'), 'utf8');
    const run = await runCli(['decode', '--hex'], { input });
    const kinds = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line).method ?? JSON.parse(line).kind);
    expect(kinds).toEqual([
      'plugin.StartInstance',
      'serverPid',
      'response',
      'plugin.HandleEvent',
      'response',
      'plugin.Step',
      'response',
    ]);
  });
});
