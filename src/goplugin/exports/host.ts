// Host side: launching go-plugin plugins (or reattaching to them) and talking to them.

export type { BrokeredConnection, PluginBroker } from '../host/broker.js';
export type { PluginClient } from '../host/client.js';
export { reattachPlugin, startPlugin } from '../host/entry.js';
export type { PluginExit } from '../host/errors.js';
export { cleanupPlugins } from '../host/live-clients.js';
export type { PluginConnectionOptions, ReattachPluginOptions, StartPluginOptions } from '../host/options.js';
export type { OutputSink } from '../host/stdio.js';
