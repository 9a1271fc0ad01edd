import { createPrivateKey, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derLength, oid, readElement, time, unsignedInteger } from '../../src/goplugin/der.js';
import { generateAutoMTLSCertificate } from '../../src/goplugin/mtls.js';

describe('DER writer', () => {
  it('encodes lengths in short and minimal long form', () => {
    expect([...derLength(0)]).toEqual([0]);
    expect([...derLength(127)]).toEqual([127]);
    expect([...derLength(128)]).toEqual([0x81, 0x80]);
    expect([...derLength(256)]).toEqual([0x82, 0x01, 0x00]);
    expect(() => derLength(-1)).toThrow(RangeError);
  });
  it('encodes OIDs (known encodings)', () => {
    expect(oid('1.2.840.10045.4.3.4').toString('hex')).toBe('06082a8648ce3d040304');
    expect(oid('2.5.4.3').toString('hex')).toBe('0603550403');
    expect(oid('1.3.6.1.5.5.7.3.1').toString('hex')).toBe('06082b06010505070301');
    expect(() => oid('1')).toThrow(RangeError);
  });
  it('encodes unsigned integers minimally with a sign byte when needed', () => {
    expect(unsignedInteger(Buffer.from([0, 0, 5])).toString('hex')).toBe('020105');
    expect(unsignedInteger(Buffer.from([0x80])).toString('hex')).toBe('02020080');
    expect(unsignedInteger(Buffer.from([0, 0])).toString('hex')).toBe('020100');
  });
  it('uses UTCTime before 2050 and GeneralizedTime after', () => {
    expect(
      time(new Date(Date.UTC(2026, 10, 22, 9, 11, 9)))
        .toString('latin1')
        .slice(2),
    ).toBe('261122091109Z');
    expect(
      time(new Date(Date.UTC(2056, 0, 2, 3, 4, 5)))
        .toString('latin1')
        .slice(2),
    ).toBe('20560102030405Z');
    expect(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))[0]).toBe(0x17);
    expect(time(new Date(Date.UTC(2050, 0, 1)))[0]).toBe(0x18);
  });
  it('property: readElement inverts length encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (content) => {
        const element = Buffer.concat([Buffer.from([0x04]), derLength(content.length), content]);
        const read = readElement(element);
        expect(read.end).toBe(element.length);
        expect(read.content.equals(Buffer.from(content))).toBe(true);
      }),
      { seed: 11, numRuns: 200 },
    );
  });
  it('readElement rejects truncated input', () => {
    expect(() => readElement(Buffer.from([0x30]))).toThrow(RangeError);
    expect(() => readElement(Buffer.from([0x30, 0x05, 0x00]))).toThrow(RangeError);
  });
});

describe('generateAutoMTLSCertificate (spec §9.1)', () => {
  it("matches go-plugin's template and verifies with its own key", () => {
    const now = new Date(Date.UTC(2026, 10, 22, 9, 0, 0));
    const { certDer, certPem, keyPem } = generateAutoMTLSCertificate({ now });
    const cert = new X509Certificate(certDer);
    expect(cert.raw.equals(new X509Certificate(certPem).raw)).toBe(true);
    expect(cert.subject.split('\n').sort()).toEqual(['CN=localhost', 'O=HashiCorp']);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.subjectAltName).toBe('DNS:localhost');
    expect(cert.ca).toBe(true);
    expect(cert.keyUsage?.sort()).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime() - 30_000);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 262_980 * 3_600_000);
    expect(keyPem).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(BigInt(`0x${cert.serialNumber}`)).toBeLessThan(2n ** 128n);
  });
  it('writes critical key usage with the four go-plugin bits and ECDSA-SHA-512', () => {
    const { certDer } = generateAutoMTLSCertificate();
    const hex = certDer.toString('hex');
    // keyUsage extension: OID 2.5.29.15, critical TRUE, OCTET STRING { BIT STRING 2 unused bits, 0xac }
    expect(hex).toContain('0603551d0f0101ff0404030202ac');
    // basicConstraints: OID 2.5.29.19, critical, SEQUENCE { TRUE }
    expect(hex).toContain('0603551d130101ff040530030101ff');
    expect(hex).toContain('06082a8648ce3d040304');
  });
  it('supports faster curves', () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const cert = new X509Certificate(generateAutoMTLSCertificate({ curve }).certDer);
      expect(cert.verify(cert.publicKey)).toBe(true);
    }
  });
});
