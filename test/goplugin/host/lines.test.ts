import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StderrLineSplitter } from '../../../src/goplugin/host/lines.js';

describe('StderrLineSplitter (Go bufio.Reader.ReadLine with a fixed buffer)', () => {
  it('splits at \\n, drops one \\r before it, and keeps an unterminated last line for end()', () => {
    const splitter = new StderrLineSplitter(64);
    expect(splitter.push(Buffer.from('a\r\nb\n\nc')).map((line) => line.text)).toEqual(['a', 'b', '']);
    expect(splitter.end()).toEqual({ text: 'c', bytes: 1, piece: false });
    expect(splitter.end()).toBeUndefined();
  });

  it('emits a line longer than the buffer as pieces, all marked as pieces', () => {
    const splitter = new StderrLineSplitter(4);
    const lines = splitter.push(Buffer.from('abcdefghij\nok\n'));
    expect(lines).toEqual([
      { text: 'abcd', bytes: 4, piece: true },
      { text: 'efgh', bytes: 4, piece: true },
      { text: 'ij', bytes: 2, piece: true },
      { text: 'ok', bytes: 2, piece: false },
    ]);
  });

  it('gives the same lines however the bytes are chunked (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z\r]{0,12}$/), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        (lines, cuts) => {
          const text = Buffer.from(lines.map((line) => `${line}\n`).join(''));
          const whole = new StderrLineSplitter(8).push(text);
          const splitter = new StderrLineSplitter(8);
          const chunked = [];
          let offset = 0;
          let index = 0;
          while (offset < text.length) {
            const size = cuts[index++ % cuts.length]!;
            chunked.push(...splitter.push(text.subarray(offset, offset + size)));
            offset += size;
          }
          expect(chunked.map((line) => line.text).join('')).toBe(whole.map((line) => line.text).join(''));
          expect(chunked.filter((line) => !line.piece).length).toBe(
            whole.filter((line) => !line.piece).length,
          );
        },
      ),
      { seed: 8 },
    );
  });
});
