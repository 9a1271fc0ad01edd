import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'html'],
    },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          // Unit tests first, alone; interop tests (processes, sockets) after them with their own worker cap.
          sequence: { groupOrder: 0 },
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**', '**/node_modules/**'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'interop',
          sequence: { groupOrder: 1 },
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Real peers are processes and sockets; two cores do not run many of them well at once.
          maxWorkers: 2,
          globalSetup: ['./test/helpers/global-teardown.ts'],
        },
      },
    ],
  },
});
