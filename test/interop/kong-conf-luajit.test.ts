import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { luaNumberToString, luaQuote, luaToNumber } from '../../src/kong-conf/lua.js';
import { checkPeer, commandSucceeds } from '../helpers/peers.js';

// Kong runs on LuaJIT: its `tonumber`, `tostring` and `%q` decide how kong.conf values and the legacy Go
// commands come out. Compare the module's reimplementation with the real LuaJIT on generated inputs.
const ok = checkPeer('luajit', commandSucceeds('luajit', ['-e', 'os.exit(0)']));

function luajit(script: string, lines: readonly string[]): string[] {
  const input = lines.map((line) => Buffer.from(line, 'latin1').toString('hex')).join('\n');
  const result = spawnSync('luajit', ['-e', script], {
    input: `${input}\n`,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`luajit failed: ${result.stderr}`);
  return result.stdout.split('\n').slice(0, lines.length);
}

const DECODE_HEX =
  'local function unhex(h) return (h:gsub("..", function(c) return string.char(tonumber(c, 16)) end)) end';

describe.skipIf(!ok)('Lua primitives agree with LuaJIT', () => {
  it('tonumber and tostring agree on number-like strings', () => {
    const alphabet = [
      ...'0123456789',
      '.',
      'e',
      'E',
      '+',
      '-',
      'x',
      'X',
      'a',
      'f',
      'p',
      'b',
      ' ',
      '\t',
      'i',
      'n',
      'I',
      'N',
    ];
    const numberLike = fc.oneof(
      fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 12 }).map((chars) => chars.join('')),
      fc.double({ noNaN: false }).map((value) => String(value)),
      fc.integer().map((value) => `0x${Math.abs(value).toString(16)}`),
      fc.constantFrom('inf', '-Infinity', 'nan', '0x1p-2', '1e400', '12345678901234.5', '0b101', '1.', '.5'),
    );
    const samples = fc.sample(numberLike, { seed: 7, numRuns: 3000 });
    const script = `${DECODE_HEX}
for line in io.lines() do
  local n = tonumber(unhex(line))
  io.write(n == nil and "nil" or tostring(n), "\\n")
end`;
    const expected = luajit(script, samples);
    const actual = samples.map((sample) => {
      const value = luaToNumber(sample);
      return value === undefined ? 'nil' : luaNumberToString(value);
    });
    const mismatches = samples
      .filter((_, i) => actual[i] !== expected[i])
      .map((s, i) => [s, actual[i], expected[i]]);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });

  it('%q agrees on arbitrary bytes', () => {
    const samples = fc.sample(
      fc
        .array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 })
        .map((bytes) => String.fromCharCode(...bytes)),
      { seed: 11, numRuns: 2000 },
    );
    const script = `${DECODE_HEX}
for line in io.lines() do
  io.write((string.format("%q", unhex(line)):gsub(".", function(c) return string.format("%02x", c:byte()) end)), "\\n")
end`;
    const expected = luajit(script, samples);
    const actual = samples.map((sample) => Buffer.from(luaQuote(sample), 'latin1').toString('hex'));
    const mismatches = samples.filter((_, i) => actual[i] !== expected[i]);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});
