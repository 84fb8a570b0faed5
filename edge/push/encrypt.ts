/**
 * Web Push message encryption (RFC 8291) in the `aes128gcm` content coding (RFC 8188),
 * WebCrypto only (internal to edge/push/).
 *
 * The sender makes a one-off P-256 key pair and a 16-byte salt; ECDH with the subscription's
 * `p256dh` key gives the shared secret; HKDF with the subscription's `auth` secret and
 * "WebPush: info" ‖ ua_public ‖ as_public gives the input key material; HKDF with the salt
 * gives the content key ("Content-Encoding: aes128gcm") and nonce ("Content-Encoding: nonce").
 * The body is one record: header salt(16) ‖ rs(4, big-endian) ‖ idlen(1) ‖ as_public(65),
 * then AES-128-GCM of plaintext ‖ 0x02 (the last record's padding delimiter).
 */

/** What the push service knows of a device: its ECDH public key and auth secret (raw bytes). */
export type PushKeys = { p256dh: Uint8Array; auth: Uint8Array };

/** Fixed inputs, for reproducing RFC 8291's example; a real send leaves them out. */
export type EncryptFixture = { salt: Uint8Array; sender: CryptoKeyPair };

/** The record size the header announces; one record always holds a push payload. */
const RECORD_SIZE = 4096;
/** Bytes a push service must accept (RFC 8291 §4): the plaintext fits with the header, delimiter and tag. */
export const MAX_PLAINTEXT_BYTES = RECORD_SIZE - 86 - 1 - 16;

const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;
const text = new TextEncoder();

export async function encryptPayload(plaintext: Uint8Array, keys: PushKeys, fixture?: EncryptFixture): Promise<Uint8Array> {
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new Error(`a push payload is at most ${MAX_PLAINTEXT_BYTES} bytes`);
  if (keys.auth.length !== 16) throw new Error("the auth secret is 16 bytes");
  const sender = fixture?.sender ?? ((await crypto.subtle.generateKey(ECDH, true, ["deriveBits"])) as CryptoKeyPair);
  const salt = fixture?.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const uaPublic = await crypto.subtle.importKey("raw", keys.p256dh, ECDH, true, []);
  const asPublic = new Uint8Array((await crypto.subtle.exportKey("raw", sender.publicKey)) as ArrayBuffer);
  // workerd reads `public`; its type declarations spell the member `$public`.
  const agreement = { name: "ECDH", public: uaPublic };
  const shared = new Uint8Array(await crypto.subtle.deriveBits(agreement, sender.privateKey, 256));

  const keyInfo = concat(text.encode("WebPush: info\0"), keys.p256dh, asPublic);
  const ikm = await hkdf(keys.auth, shared, keyInfo, 32);
  const cek = await hkdf(salt, ikm, text.encode("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, text.encode("Content-Encoding: nonce\0"), 12);

  const key = await crypto.subtle.importKey("raw", cek, "AES-GCM", false, ["encrypt"]);
  const record = concat(plaintext, new Uint8Array([2]));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, tagLength: 128 }, key, record));

  const header = new Uint8Array(16 + 4 + 1 + asPublic.length);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = asPublic.length;
  header.set(asPublic, 21);
  return concat(header, sealed);
}

/** HKDF-SHA-256 (RFC 5869) of `length` bytes. */
async function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
