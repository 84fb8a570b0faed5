/**
 * Masks a secret in a byte stream (internal to the model proxy): every occurrence, even one
 * split across chunks, becomes the same number of `*`, so a Content-Length stays right. Only
 * a chunk's tail that could begin the secret is held back until the next chunk; an SSE
 * event ends in a newline, which no key begins with, so events pass through at once.
 */
export class SecretRedactor {
  private held = Buffer.alloc(0);
  private readonly secret: Buffer;

  constructor(secret: string) {
    this.secret = Buffer.from(secret, "utf8");
  }

  push(chunk: Buffer): Buffer {
    const buf = mask(Buffer.concat([this.held, chunk]), this.secret);
    const keep = partialTail(buf, this.secret);
    this.held = Buffer.from(buf.subarray(buf.length - keep));
    return buf.subarray(0, buf.length - keep);
  }

  flush(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest;
  }
}

/** `text` with every occurrence of `secret` replaced, for log lines and error messages. */
export function redactText(text: string, secret: string): string {
  return secret ? text.split(secret).join("[redacted]") : text;
}

function mask(buf: Buffer, secret: Buffer): Buffer {
  if (secret.length === 0) return buf;
  let at = buf.indexOf(secret);
  while (at !== -1) {
    buf.fill(0x2a, at, at + secret.length);
    at = buf.indexOf(secret, at + secret.length);
  }
  return buf;
}

/** The length of the longest tail of `buf` that is a proper prefix of `secret`. */
function partialTail(buf: Buffer, secret: Buffer): number {
  for (let k = Math.min(secret.length - 1, buf.length); k > 0; k--) {
    if (buf.subarray(buf.length - k).equals(secret.subarray(0, k))) return k;
  }
  return 0;
}
