import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { Channel } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { channelSetup, type MtlsMaterial } from '../../../src/goplugin/host/channel.js';
import { generateAutoMTLSCertificate } from '../../../src/goplugin/mtls.js';

const plugin = generateAutoMTLSCertificate({ curve: 'P-256' });
const host = generateAutoMTLSCertificate({ curve: 'P-256' });
const material: MtlsMaterial = { peerCertPem: plugin.certPem, certPem: host.certPem, keyPem: host.keyPem };

describe('channel setup', () => {
  it('uses unix targets as is, raises message limits, and names localhost for TCP with TLS', () => {
    expect(channelSetup('unix', '/tmp/plugin1', undefined)).toMatchObject({
      target: 'unix:/tmp/plugin1',
      options: { 'grpc.max_receive_message_length': 2_147_483_647 },
    });
    expect(channelSetup('tcp', '127.0.0.1:10000', undefined).options).not.toHaveProperty(
      'grpc.ssl_target_name_override',
    );
    expect(channelSetup('tcp', '127.0.0.1:10000', material).options).toMatchObject({
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.default_authority': 'localhost',
    });
  });

  describe('AutoMTLS against a real TLS listener', () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });

    /** Opens a channel to a TLS 1.3-only server presenting the plugin certificate; reports how the TLS handshake went. */
    async function handshakeWith(mtls: MtlsMaterial): Promise<'ok' | 'refused'> {
      const dir = await mkdtemp(join(tmpdir(), 'pwc-'));
      const path = join(dir, 'tls.sock');
      const server = createServer({
        key: plugin.keyPem,
        cert: plugin.certPem,
        ca: host.certPem,
        requestCert: true,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
      });
      server.listen(path);
      await once(server, 'listening');
      const setup = channelSetup('unix', path, mtls);
      const channel = new Channel(setup.target, setup.credentials, setup.options);
      cleanups.push(async () => {
        channel.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rm(dir, { recursive: true, force: true });
      });
      const outcome = new Promise<'ok' | 'refused'>((resolve) => {
        server.once('secureConnection', (socket: TLSSocket) => {
          socket.destroy();
          resolve('ok');
        });
        server.once('tlsClientError', () => resolve('refused'));
      });
      channel.getConnectivityState(true);
      return outcome;
    }

    it('completes a mutual TLS handshake by default (TLS 1.3 allowed)', async () => {
      expect(await handshakeWith(material)).toBe('ok');
    });

    it('caps the version at TLS 1.2 when asked, so a TLS 1.3-only peer refuses it', async () => {
      expect(await handshakeWith({ ...material, maxVersion: 'TLSv1.2' })).toBe('refused');
    });
  });
});
