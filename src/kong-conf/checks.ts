/** Findings beyond Kong about plugin-server names and definitions (spec §8.4). Never change a result. */
import { PLUGINSERVER_KEY } from './keys.js';
import { asciiLower, utf8Length } from './lua.js';
import { nameAndPrefix, type Resolution } from './resolution.js';
import type { PluginServer } from './resolve.js';

const SHELL_WORDS = new Set(
  'cd export if then else elif fi for while until do done case esac set unset source . eval alias ulimit umask trap shift read local readonly wait { } ( ) ! [['.split(
    ' ',
  ),
);

/**
 * `start-cmd-not-simple`: Kong runs `exec <cmd>`, so a builtin or keyword without a binary of the same name
 * (`cd`, `export`, `if`; `test` and `true` exist in /usr/bin), a leading assignment or a shell list fails.
 */
function startCommandProblem(command: string): string | undefined {
  const first = command.trimStart().split(/[\s]+/)[0] ?? '';
  if (SHELL_WORDS.has(first)) return `its first word \`${first}\` is a shell builtin or keyword`;
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) return `it starts with the variable assignment \`${first}\``;
  if (/&&|\|\||[;|&]/.test(command)) return 'it is a shell list or pipeline';
  return undefined;
}

/** Name-level findings, computed before any server so that a failing resolution carries them. */
export function checkNames(r: Resolution, names: readonly string[]): void {
  const namesKey = 'pluginserver_names';
  const seen = new Map<string, string>();
  const byPrefix = new Map<string, string>();
  for (const raw of names) {
    const { name, prefix } = nameAndPrefix(r.profile, raw);
    if (name === '') {
      r.add(
        'pluginserver-empty-name',
        'warning',
        'pluginserver_names has an empty element: Kong defines a server named "" (properties `pluginserver__*`)',
        namesKey,
      );
    }
    if (asciiLower(name) === 'off' || asciiLower(name) === 'none') {
      r.add(
        'pluginserver-literal-off',
        'warning',
        `pluginserver_names = ${raw} defines a server literally named "${name}"; leave the property empty for no servers`,
        namesKey,
      );
    }
    if (!/^[a-z0-9_-]*$/.test(asciiLower(name))) {
      r.add(
        'pluginserver-name-unmatchable',
        'warning',
        `no kong.conf key can set the properties of "${name}": Kong looks up ${prefix}_*, but keys in a file have every byte other than [A-Za-z0-9] turned into _`,
        namesKey,
      );
    }
    if (seen.has(name)) {
      r.add(
        'pluginserver-duplicate-name',
        'warning',
        `pluginserver_names lists "${name}" twice (as ${seen.get(name)} and ${raw}); Kong defines two servers`,
        namesKey,
      );
    } else seen.set(name, raw);
    const other = byPrefix.get(prefix);
    if (other !== undefined && other !== name) {
      r.add(
        'pluginserver-prefix-collision',
        'warning',
        `"${other}" and "${name}" both read the properties ${prefix}_*`,
        namesKey,
      );
    } else byPrefix.set(prefix, name);
  }
  const prefixes = new Set(byPrefix.keys());
  for (const key of r.props.dynamicKeys()) {
    if (key === namesKey) continue;
    const match = /^(pluginserver_[\s\S]*)_(socket|start_cmd|query_cmd)$/.exec(key);
    if (match?.[1] !== undefined) {
      if (!prefixes.has(match[1]) && r.props.lookup(key) !== undefined) {
        r.add(
          'pluginserver-unlisted',
          'warning',
          `${key} belongs to no server in pluginserver_names (Kong reads ${[...prefixes].map((p) => `${p}_*`).join(', ') || 'nothing'})`,
          key,
        );
      }
    } else if (PLUGINSERVER_KEY.test(key) && r.props.lookup(key) !== undefined) {
      r.add(
        'pluginserver-unknown-property',
        'warning',
        `${key} is not a property Kong reads: only _socket, _start_cmd and _query_cmd exist`,
        key,
      );
    }
  }
}

export function checkServer(r: Resolution, server: PluginServer): void {
  if (!server.socket.startsWith('/')) {
    r.add(
      'pluginserver-socket-relative',
      'warning',
      `socket ${server.socket} of ${server.name} is relative: Kong connects to it from nginx's working directory`,
    );
  }
  if (utf8Length(server.socket) > 107) {
    r.add(
      'pluginserver-socket-too-long',
      'warning',
      `socket path of ${server.name} is ${utf8Length(server.socket)} bytes; Linux allows 107`,
    );
  }
  // 2.3 spawns the command through the shell without `exec`, where shell syntax works.
  const problem =
    server.startCmd === undefined || r.profile === '2.3' ? undefined : startCommandProblem(server.startCmd);
  if (problem !== undefined) {
    r.add(
      'start-cmd-not-simple',
      'warning',
      `start command of ${server.name} will not run under Kong's \`exec <cmd>\`: ${problem}`,
    );
  }
}
