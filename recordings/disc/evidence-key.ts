// The site's evidence key: an Ed25519 key pair generated once into the secrets
// file. It signs each disc's manifest.json; the disc carries the public key
// (PEM) and the note prints its fingerprint, so a court can check a disc with
// openssl alone and compare the fingerprint with the one the site publishes.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export function generateEvidenceKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** SHA-256 of the public key's DER (SubjectPublicKeyInfo), hex: what `openssl pkey -pubin -outform DER | sha256sum` prints. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
}

/** The fingerprint in groups of four for reading aloud and printing. */
export function groupedFingerprint(hex: string): string {
  return hex.match(/.{1,4}/g)?.join(' ') ?? hex;
}

export class EvidenceKey {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly fingerprint: string;

  constructor(privateKeyPem: string) {
    this.privateKey = createPrivateKey(privateKeyPem);
    if (this.privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the evidence key must be an Ed25519 key');
    this.publicKey = createPublicKey(this.privateKey);
    this.publicKeyPem = this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    this.fingerprint = publicKeyFingerprint(this.publicKey);
  }

  /** Ed25519 signature (64 bytes) of the exact bytes given; deterministic. */
  sign(data: Buffer): Buffer {
    return sign(null, data, this.privateKey);
  }
}

/** Verifies an Ed25519 signature against a PEM public key; false for any malformed input. */
export function verifySignature(publicKeyPem: string, data: Buffer, signature: Buffer): { ok: boolean; fingerprint: string | null } {
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
  } catch {
    return { ok: false, fingerprint: null };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { ok: false, fingerprint: null };
  let ok = false;
  try {
    ok = signature.length === 64 && verify(null, data, key, signature);
  } catch {
    ok = false;
  }
  return { ok, fingerprint: publicKeyFingerprint(key) };
}
