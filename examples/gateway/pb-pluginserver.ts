/**
 * The demo's ProtoBuf:1 plugin server: a TypeScript plugin served over the protocol every go-pdk (v0.7+) Go plugin
 * speaks, so the gateway runs it exactly as it would run a Go plugin. Started as kong.conf's
 * `pluginserver_pb_start_cmd`; `-dump` prints `{"Protocol":"ProtoBuf:1",…}`, which is how the gateway (and Kong)
 * know to speak ProtoBuf:1 to it.
 *
 * Plugin `tagger`: in access, tags the response with `x-tagger` and the request path; in log, logs what it saw.
 */
import { type KongPdk, KongPluginServer, runPluginServerCli } from '../../src/kong-rpc/index.js';

const server = new KongPluginServer({ name: 'pb', protocol: 'ProtoBuf:1' });
server.addPlugin({
  name: 'tagger',
  version: '0.1.0',
  priority: 50,
  create: () => ({
    async access(kong: KongPdk) {
      const path = await kong.request.getPath();
      await kong.response.setHeader('x-tagger', `protobuf ${path}`);
    },
    async log(kong: KongPdk) {
      const [method, path, status] = await Promise.all([
        kong.request.getMethod(),
        kong.request.getPath(),
        kong.response.getStatus(),
      ]);
      await kong.log.notice('tagger saw', method, path, '->', String(status));
    },
  }),
});
await runPluginServerCli(server);
