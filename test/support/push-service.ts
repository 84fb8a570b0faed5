/**
 * A local stand-in for a Web Push service, on 127.0.0.1: it holds devices as a browser would
 * (a P-256 key pair and a 16-byte auth secret each, an endpoint under its own URL), and for
 * each push it receives checks the VAPID `Authorization` (RFC 8292: ES256 JWT signed by the
 * expected key, `aud` its origin, `exp` ahead, a `sub`), decrypts the `aes128gcm` body
 * (RFC 8291, with Node's crypto, apart from the edge's WebCrypto code) and keeps the plaintext.
 * A device answers 201, or the status a test sets (410 for an expired subscription).
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from "node:crypto";
import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type ReceivedPush = { device: string; status: number; payload: unknown; ttl: string | null };

export class PushDevice {
  readonly ecdh = createECDH("prime256v1");
  readonly auth = randomBytes(16);
  /** What this device's endpoint answers. */
  status = 201;

  constructor(
    readonly name: string,
    readonly endpoint: string,
  ) {
    this.ecdh.generateKeys();
  }

  /** The subscription as `PushSubscription.toJSON()` gives it. */
  subscription(): { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } } {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: this.ecdh.getPublicKey().toString("base64url"), auth: this.auth.toString("base64url") } };
  }

  /** RFC 8291 decryption of one aes128gcm record. */
  decrypt(body: Buffer): Buffer {
    const salt = body.subarray(0, 16);
    const idlen = body[20]!;
    const asPublic = body.subarray(21, 21 + idlen);
    const sealed = body.subarray(21 + idlen);
    const uaPublic = this.ecdh.getPublicKey();
    const shared = this.ecdh.computeSecret(asPublic);
    const info = (label: string) => Buffer.from(`Content-Encoding: ${label}\0`);
    const ikm = Buffer.from(hkdfSync("sha256", shared, this.auth, Buffer.concat([Buffer.from("WebPush: info\0"), uaPublic, asPublic]), 32));
    const cek = Buffer.from(hkdfSync("sha256", ikm, salt, info("aes128gcm"), 16));
    const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, info("nonce"), 12));
    const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const record = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    // The last record ends with the delimiter 0x02, then zero padding.
    let end = record.length - 1;
    while (end >= 0 && record[end] === 0) end--;
    if (record[end] !== 2) throw new Error("the record has no last-record delimiter");
    return record.subarray(0, end);
  }
}

export class PushService {
  readonly received: ReceivedPush[] = [];
  /** Pushes refused before decryption (a bad VAPID header or body), with why. */
  readonly refused: string[] = [];
  readonly devices = new Map<string, PushDevice>();
  #server: Server | null = null;
  #waiters: Array<() => void> = [];
  url = "";

  /** `vapidPublicKey`: the edge's key, the only one whose signatures are taken. */
  constructor(readonly vapidPublicKey: string) {}

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      void this.#handle(req).then(
        (status) => res.writeHead(status).end(),
        (err: unknown) => {
          this.refused.push(String(err));
          this.#wake();
          res.writeHead(400).end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  device(name: string): PushDevice {
    const device = new PushDevice(name, `${this.url}/push/${name}`);
    this.devices.set(name, device);
    return device;
  }

  /** Waits until `test` holds for what was received (or refused), at most `ms`. */
  async until(test: (received: ReceivedPush[]) => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.received)) {
      if (this.refused.length > 0) throw new Error(`the push service refused a push: ${this.refused.join("; ")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such push within ${ms} ms; received ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const name = /^\/push\/([\w-]+)$/.exec(req.url ?? "")?.[1];
    const device = name ? this.devices.get(name) : undefined;
    if (req.method !== "POST" || !device) return 404;
    this.#checkVapid(req.headers.authorization ?? "");
    if (req.headers["content-encoding"] !== "aes128gcm") throw new Error(`content-encoding is ${req.headers["content-encoding"]}`);
    const plaintext = device.decrypt(Buffer.concat(chunks));
    this.received.push({ device: device.name, status: device.status, payload: JSON.parse(plaintext.toString("utf8")), ttl: req.headers.ttl as string | null });
    this.#wake();
    return device.status;
  }

  #checkVapid(header: string): void {
    const m = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header);
    if (!m) throw new Error(`not a VAPID header: ${header}`);
    const [, head, claims, signature, k] = m as unknown as [string, string, string, string, string];
    if (k !== this.vapidPublicKey) throw new Error("k is not the edge's VAPID public key");
    const point = Buffer.from(k, "base64url");
    const key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") }, format: "jwk" });
    const signed = verify("sha256", Buffer.from(`${head}.${claims}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(signature, "base64url"));
    if (!signed) throw new Error("the VAPID JWT's signature does not verify");
    const header0 = JSON.parse(Buffer.from(head, "base64url").toString()) as { alg?: string };
    const body = JSON.parse(Buffer.from(claims, "base64url").toString()) as { aud?: string; exp?: number; sub?: string };
    if (header0.alg !== "ES256") throw new Error(`alg is ${header0.alg}`);
    if (body.aud !== this.url) throw new Error(`aud is ${body.aud}, not ${this.url}`);
    if (!body.exp || body.exp * 1000 <= Date.now() || body.exp * 1000 > Date.now() + 24 * 3600_000) throw new Error(`exp ${body.exp} is not within a day ahead`);
    if (!body.sub?.startsWith("mailto:")) throw new Error(`sub is ${body.sub}`);
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
