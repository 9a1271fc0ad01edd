/**
 * Runs the runnable examples of examples/ that are tests themselves (vitest includes only test/**, so they are
 * imported here): examples/vitest-fixture.test.ts tests a real plugin-server process with pluginwire as Kong.
 */
import '../../examples/vitest-fixture.test.js';
