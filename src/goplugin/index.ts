/**
 * `pluginwire/goplugin`: hashicorp/go-plugin in TypeScript, both sides: launch Go (or TypeScript) plugins and talk
 * gRPC to them, or serve a plugin a Go host can launch.
 *
 * @packageDocumentation
 */
export { PluginwireError, type PluginwireErrorOptions } from '../errors.js';
export type { LogFields, Logger, LogLevel } from '../logger.js';
// Errors: GoPluginError and its subclasses, one per GOPLUGIN_* code.
export * from './exports/errors.js';
// Host side: launching go-plugin plugins and talking to them.
export * from './exports/host.js';
// Plugin side: serving go-plugin plugins from TypeScript.
export * from './exports/plugin.js';
// Wire formats both sides use.
export * from './exports/wire.js';
