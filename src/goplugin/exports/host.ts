// Host side: launching go-plugin plugins (or reattaching to them) and talking to them.

export type { BrokeredConnection, PluginBroker } from '../host/broker.js';
export { PluginClient } from '../host/client.js';
export type { PluginExit } from '../host/errors.js';
export { cleanupPlugins } from '../host/live-clients.js';
export type { PluginConnectionOptions, ReattachPluginOptions, StartPluginOptions } from '../host/options.js';
export { reattachPlugin, startPlugin } from '../host/start.js';
export type { OutputSink } from '../host/stdio.js';
