/**
 * AutoMTLS certificates as go-plugin makes them (`hashicorp/go-plugin: mtls.go`, `generateCert`): a self-signed
 * ECDSA certificate for `localhost`, organisation `HashiCorp`, usable as client and server and as its own CA.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  bitString,
  boolean,
  type Der,
  explicit,
  octetString,
  oid,
  printableString,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  tlv,
  unsignedInteger,
} from './der.js';
import { derToPem } from './handshake.js';

/** Curves the AutoMTLS certificate can use. Go uses P-521; hosts do not check the curve. */
export type AutoMTLSCurve = 'P-521' | 'P-384' | 'P-256';

/** Options of the AutoMTLS certificate a plugin generates (`ServePluginOptions.autoMTLS`). */
export interface AutoMTLSCertificateOptions {
  /** Key curve; default `P-521` with ECDSA-SHA-512, as go-plugin. P-256 is much faster to generate. */
  curve?: AutoMTLSCurve;
  /** Clock for the validity period (tests); default now. */
  now?: Date;
}

/** A generated certificate with its private key. */
export interface AutoMTLSCertificate {
  /** The certificate, DER. */
  certDer: Buffer;
  /** The certificate, PEM. */
  certPem: string;
  /** The private key, PEM `EC PRIVATE KEY` (SEC 1), as Go writes it. */
  keyPem: string;
}

const SIGNATURE: Record<AutoMTLSCurve, { hash: string; oid: string }> = {
  'P-521': { hash: 'sha512', oid: '1.2.840.10045.4.3.4' },
  'P-384': { hash: 'sha384', oid: '1.2.840.10045.4.3.3' },
  'P-256': { hash: 'sha256', oid: '1.2.840.10045.4.3.2' },
};

// go-plugin's validity: from 30 s ago (clock skew) to 262980 hours (~30 years) from now.
const NOT_BEFORE_SKEW = 30_000;
const LIFETIME = 262_980 * 3_600_000;

/**
 * Generates a go-plugin AutoMTLS certificate: subject and issuer `O=HashiCorp, CN=localhost`, DNS SAN
 * `localhost`, key usage digitalSignature + keyEncipherment + keyAgreement + keyCertSign (critical), extended key
 * usage clientAuth + serverAuth, basic constraints CA (critical), a random 128-bit serial, and a subject key id.
 *
 * @param options - curve and clock.
 * @returns the certificate (DER and PEM) and its private key (PEM).
 * @example
 * ```ts
 * const { certDer, certPem, keyPem } = generateAutoMTLSCertificate();
 * ```
 */
export function generateAutoMTLSCertificate(options: AutoMTLSCertificateOptions = {}): AutoMTLSCertificate {
  const curve = options.curve ?? 'P-521';
  const signature = SIGNATURE[curve];
  const now = options.now ?? new Date();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  // Go's pkix.Name order puts O before CN; both values are PrintableString-safe.
  const name = sequence(
    set(sequence(oid('2.5.4.10'), printableString('HashiCorp'))),
    set(sequence(oid('2.5.4.3'), printableString('localhost'))),
  );
  const algorithm = sequence(oid(signature.oid));
  // Subject key id: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1; Go does the same for CAs).
  const spkiBody = readElement(spki).content;
  const keyBits = readElement(spkiBody, readElement(spkiBody).end).content.subarray(1);
  const subjectKeyId = createHash('sha1').update(keyBits).digest();

  const extension = (id: string, critical: boolean, value: Der): Der =>
    critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
  const extensions = sequence(
    // keyUsage bits 0 (digitalSignature), 2 (keyEncipherment), 4 (keyAgreement), 5 (keyCertSign): 0b10101100,
    // the two unused trailing bits declared as DER demands.
    extension('2.5.29.15', true, bitString(Buffer.from([0xac]), 2)),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.2'), oid('1.3.6.1.5.5.7.3.1'))),
    extension('2.5.29.19', true, sequence(boolean(true))),
    extension('2.5.29.14', false, octetString(subjectKeyId)),
    // GeneralName dNSName is [2] IMPLICIT IA5String.
    extension('2.5.29.17', false, sequence(tlv(0x82, Buffer.from('localhost', 'latin1')))),
  );
  // Go: a random serial below 2^128 (`rand.Int(rand.Reader, 2^128)`).
  const serial = unsignedInteger(randomBytes(16));
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    serial,
    algorithm,
    name,
    sequence(time(new Date(now.getTime() - NOT_BEFORE_SKEW)), time(new Date(now.getTime() + LIFETIME))),
    name,
    spki,
    explicit(3, extensions),
  );
  const signatureValue = sign(signature.hash, tbs, { key: privateKey, dsaEncoding: 'der' });
  const certDer = sequence(tbs, algorithm, bitString(signatureValue));
  return {
    certDer,
    certPem: derToPem(certDer),
    keyPem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  };
}
