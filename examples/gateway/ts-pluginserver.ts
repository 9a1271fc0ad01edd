/**
 * The demo's TypeScript plugin server, started by the gateway as Kong would start it (kong.conf's
 * `pluginserver_ts_start_cmd`): `-dump` prints the plugin infos (the query command), `-kong-prefix <dir>`
 * serves on `<dir>/ts.socket`.
 *
 * Plugin `stamp`: in access, blocks `host: blocked.example` with kong.response.exit(403) and otherwise stamps
 * the response with `x-stamp` and the request method; in log, logs what it saw.
 */
import { type KongPdk, KongPluginServer, runPluginServerCli } from '../../src/kong-rpc/index.js';

interface StampConfig {
  tag?: string;
}

const server = new KongPluginServer({ name: 'ts' });
server.addPlugin({
  name: 'stamp',
  version: '0.1.0',
  priority: 10,
  schema: [{ tag: { type: 'string' } }],
  create: (config: StampConfig) => ({
    async access(kong: KongPdk) {
      const host = await kong.request.getHeader('host');
      if (host === 'blocked.example') {
        await kong.log.warn('blocked host', host);
        return kong.response.exit(403, 'blocked by stamp\n', { 'x-stamp': 'blocked' });
      }
      const method = await kong.request.getMethod();
      await kong.response.setHeader('x-stamp', `${config.tag ?? 'stamped'} ${method}`);
    },
    async log(kong: KongPdk) {
      const status = await kong.response.getStatus();
      await kong.log.info(`stamp done, status ${status}`);
    },
  }),
});
await runPluginServerCli(server);
