/**
 * The fuzz toolbox, for target files: the harness (target shape, checks, runner) and the input building blocks.
 * The targets themselves live one file per module (msgpack-rpc.ts, kong-rpc.ts, goplugin.ts, kong-conf.ts,
 * cli.ts) and are listed in registry.ts.
 */
export * from './harness.js';
export * from './inputs.js';
