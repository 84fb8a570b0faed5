import { describe, expect, it } from "vitest";
import { decodeBase64url, encodeBase64url } from "./base64url.ts";
import { encryptPayload } from "./encrypt.ts";
import { vapidAuthorization } from "./vapid.ts";

/** RFC 8291 §5, "Push Message Encryption Example". */
const RFC8291 = {
  plaintext: "When I grow up, I want to be a watermelon",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  auth: "BTBZMqHH6r4Tts7J_aSIgg",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  body:
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml" +
    "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT" +
    "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
};

function jwkOf(publicKey: string, d?: string): JsonWebKey {
  const point = decodeBase64url(publicKey);
  return { kty: "EC", crv: "P-256", x: encodeBase64url(point.slice(1, 33)), y: encodeBase64url(point.slice(33, 65)), ...(d ? { d } : {}) };
}

describe("encryptPayload (RFC 8291, aes128gcm)", () => {
  it("reproduces RFC 8291's example byte for byte from its keys and salt", async () => {
    const algorithm = { name: "ECDH", namedCurve: "P-256" };
    const sender: CryptoKeyPair = {
      publicKey: await crypto.subtle.importKey("raw", decodeBase64url(RFC8291.asPublic), algorithm, true, []),
      privateKey: await crypto.subtle.importKey("jwk", jwkOf(RFC8291.asPublic, RFC8291.asPrivate), algorithm, false, ["deriveBits"]),
    };
    const body = await encryptPayload(
      new TextEncoder().encode(RFC8291.plaintext),
      { p256dh: decodeBase64url(RFC8291.uaPublic), auth: decodeBase64url(RFC8291.auth) },
      { salt: decodeBase64url(RFC8291.salt), sender },
    );
    expect(encodeBase64url(body)).toBe(RFC8291.body);
  });

  it("uses a fresh key and salt on every call", async () => {
    const keys = { p256dh: decodeBase64url(RFC8291.uaPublic), auth: decodeBase64url(RFC8291.auth) };
    const plaintext = new TextEncoder().encode(RFC8291.plaintext);
    const [a, b] = [await encryptPayload(plaintext, keys), await encryptPayload(plaintext, keys)];
    expect(a.slice(0, 16)).not.toEqual(b.slice(0, 16));
    expect(a.slice(21, 86)).not.toEqual(b.slice(21, 86));
    expect(a.length).toBe(86 + plaintext.length + 1 + 16);
  });

  it("refuses an auth secret that is not 16 bytes", async () => {
    await expect(encryptPayload(new Uint8Array(1), { p256dh: decodeBase64url(RFC8291.uaPublic), auth: new Uint8Array(8) })).rejects.toThrow(/16 bytes/);
  });
});

describe("vapidAuthorization (RFC 8292)", () => {
  it("signs an ES256 JWT for the endpoint's origin that the public key verifies", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const publicKey = encodeBase64url(new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer));
    const { d } = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
    const now = Date.UTC(2026, 0, 1);
    const header = await vapidAuthorization({ publicKey, privateKey: d!, subject: "mailto:ops@example.org" }, "https://push.example.net/send/abc?x=1", now);

    const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header);
    expect(match).not.toBeNull();
    const [, head, claims, signature, k] = match!;
    expect(k).toBe(publicKey);
    expect(JSON.parse(new TextDecoder().decode(decodeBase64url(head!)))).toEqual({ typ: "JWT", alg: "ES256" });
    expect(JSON.parse(new TextDecoder().decode(decodeBase64url(claims!)))).toEqual({
      aud: "https://push.example.net",
      exp: now / 1000 + 12 * 3600,
      sub: "mailto:ops@example.org",
    });
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      pair.publicKey,
      decodeBase64url(signature!),
      new TextEncoder().encode(`${head}.${claims}`),
    );
    expect(ok).toBe(true);
  });
});
