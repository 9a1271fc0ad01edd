import { parseKongConf, resolvePluginServers } from '../src/kong-conf/index.js';

const conf = parseKongConf(
  [
    'pluginserver_names = js, go-hello',
    'pluginserver_js_start_cmd = /usr/local/bin/kong-js-pluginserver \\',
    '    -d /usr/local/kong/js-plugins',
    'pluginserver_js_query_cmd = /usr/local/bin/kong-js-pluginserver -d /usr/local/kong/js-plugins --dump-all-plugins',
    'pluginserver_go-hello_query_cmd = /usr/local/bin/go-hello -dump   # trailing comments are cut',
    'pluginserver_go_helo_socket = /tmp/typo.sock',
  ].join('\n'),
  { filename: 'kong.conf' },
);

// Kong 3.9 rules; the environment is passed in (never read implicitly) and wins over the file.
const { servers, warnings } = resolvePluginServers(conf, {
  kongVersion: '3.9',
  env: { KONG_PLUGINSERVER_JS_SOCKET: '/run/kong/js.sock' },
  fileExists: () => false, // the /usr/local/bin/<name> fallbacks; default fs.existsSync
});

for (const server of servers) {
  console.log(server.name, server.socket, server.startCmd ?? '(external)', server.queryCmd);
}
// js /run/kong/js.sock /usr/local/bin/kong-js-pluginserver     -d /usr/local/kong/js-plugins /usr/local/bin/… --dump-all-plugins
// go-hello /usr/local/kong/go-hello.socket (external) /usr/local/bin/go-hello -dump

for (const warning of warnings.filter((w) => w.severity !== 'info')) {
  console.log(`kong.conf:${warning.line ?? '-'} ${warning.code}: ${warning.message}`);
}
// kong.conf:6 pluginserver-unlisted: pluginserver_go_helo_socket belongs to no server in pluginserver_names …
// kong.conf:- pluginserver-external: start_command undefined for pluginserver go-hello; assuming external …
