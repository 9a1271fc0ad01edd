'use strict';
// A Kong JavaScript plugin, run by kong-pdk's kong-js-pluginserver (the demo's second plugin server).
// access: greets the caller in a response header, and ends the request with kong.response.exit (401)
// when the path starts with /private and the x-token header does not match the configured token.
// log: logs the method, path and status Kong serialized.
class Greeter {
  constructor(config) {
    this.config = config;
  }

  async access(kong) {
    const name = (await kong.request.getHeader('x-name')) || 'stranger';
    await kong.response.setHeader('x-greeting', `${this.config.greeting || 'hello'}, ${name}`);
    const path = await kong.request.getPath();
    if (path.startsWith('/private') && (await kong.request.getHeader('x-token')) !== this.config.token) {
      await kong.response.exit(401, 'a valid x-token is required\n', { 'x-greeter': 'denied' });
    }
  }

  async log(kong) {
    // Kong's PDK hands kong.log.serialize() over as JSON text (kong/pluginservers: serialize is cjson-encoded).
    const serialized = await kong.log.serialize();
    const entry = typeof serialized === 'string' ? JSON.parse(serialized) : serialized;
    await kong.log.notice(
      `greeter saw ${entry.request.method} ${entry.request.uri} -> ${entry.response.status}`,
    );
  }
}

module.exports = {
  Plugin: Greeter,
  Schema: [{ greeting: { type: 'string' } }, { token: { type: 'string' } }],
  Version: '1.0.0',
  Priority: 900,
};
