import type { ChildProcess } from 'node:child_process';
import { KongOutputSplitter } from './output.js';

/** How a watched child process ended. */
export interface ChildOutcome {
  /** Exit status, or `null` when killed by a signal. */
  code: number | null;
  /** The signal that killed it, or `null`. */
  signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (argv form: no such program). */
  spawnError?: Error;
}

/**
 * Drains a child's stdout and stderr into lines and resolves once it exited and its pipes reached EOF (or,
 * when a surviving grandchild holds them open, 1 s after the exit). `onExit` runs synchronously at the
 * exit itself, before the pipes are drained.
 */
export function watchChild(
  child: ChildProcess,
  maxLineBytes: number,
  onLine: (stream: 'stdout' | 'stderr', line: string, continued: boolean) => void,
  onExit: () => void,
): Promise<ChildOutcome> {
  const streams = [
    ['stdout', child.stdout],
    ['stderr', child.stderr],
  ] as const;
  const splitters = streams.map(([stream, readable]) => {
    const splitter = new KongOutputSplitter(maxLineBytes, (line, continued) =>
      onLine(stream, line, continued),
    );
    // Always drain: a full pipe would block the server even when nobody listens to `log`.
    readable?.on('data', (chunk: Buffer) => splitter.push(chunk));
    return splitter;
  });
  child.stdin?.on('error', () => {});
  return new Promise<ChildOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: ChildOutcome): void => {
      if (settled) return;
      settled = true;
      onExit();
      const closed = streams.map(([, readable]) => pipeClosed(readable));
      void Promise.all(closed).then(() => {
        for (const splitter of splitters) splitter.end();
        child.stdin?.destroy();
        resolve(outcome);
      });
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    // Spawn failure: there is no process; report it like the shell's 127 (or 126 for other errors).
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined)
        finish({ code: error.code === 'ENOENT' ? 127 : 126, signal: null, spawnError: error });
    });
  });
}

/** Resolves at EOF of `readable`, or after 1 s (then destroys it): a grandchild may hold the pipe open. */
function pipeClosed(
  readable: (NodeJS.ReadableStream & { destroy(): void; destroyed: boolean; readableEnded: boolean }) | null,
): Promise<void> {
  return new Promise<void>((done) => {
    if (!readable || readable.readableEnded || readable.destroyed) return done();
    const timer = setTimeout(() => {
      readable.destroy();
      done();
    }, 1000);
    readable.once('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}
