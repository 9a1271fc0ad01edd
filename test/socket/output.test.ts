import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KongOutputSplitter } from '../../src/socket/output.js';

function collect(maxLineBytes: number, chunks: Buffer[]): { line: string; continued: boolean }[] {
  const lines: { line: string; continued: boolean }[] = [];
  const splitter = new KongOutputSplitter(maxLineBytes, (line, continued) => lines.push({ line, continued }));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

/** Splits `bytes` at the given cut points. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe('KongOutputSplitter', () => {
  it('emits lines without newline or trailing CR, skips empty lines, flushes the last partial line', () => {
    const lines = collect(1024, [Buffer.from('one\r\n\ntwo\nthr'), Buffer.from('ee')]);
    expect(lines).toEqual([
      { line: 'one', continued: false },
      { line: 'two', continued: false },
      { line: 'three', continued: false },
    ]);
  });

  it('splits a line longer than maxLineBytes into pieces marked continued', () => {
    expect(collect(4, [Buffer.from('abcdefghij\nxy\n')])).toEqual([
      { line: 'abcd', continued: false },
      { line: 'efgh', continued: true },
      { line: 'ij', continued: true },
      { line: 'xy', continued: false },
    ]);
  });

  it('decodes invalid UTF-8 with replacement characters', () => {
    expect(collect(1024, [Buffer.from([0x61, 0xff, 0x62, 0x0a])])).toEqual([
      { line: 'a\uFFFDb', continued: false },
    ]);
  });

  it('yields the same lines however the input is chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 40 }),
        (texts, cuts, max) => {
          // ASCII only here, so byte splits never cut a character and pieces compare as strings.
          const ascii = texts.map((t) => t.replace(/[^\x20-\x7e]/g, 'x'));
          const bytes = Buffer.from(ascii.join('\n'));
          const whole = collect(max, [bytes]);
          expect(collect(max, chunked(bytes, cuts))).toEqual(whole);
          // Joining the pieces of each line gives back the non-empty input lines.
          const rebuilt: string[] = [];
          for (const { line, continued } of whole) {
            if (continued) rebuilt[rebuilt.length - 1] += line;
            else rebuilt.push(line);
          }
          expect(rebuilt).toEqual(ascii.filter((t) => t !== ''));
          expect(whole.every(({ line }) => Buffer.byteLength(line) <= max)).toBe(true);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});
