/**
 * Draws the app icon (the same picture as icon.svg) into a PNG of any size, with no
 * image library: shapes as signed distances, anti-aliased, encoded by hand (zlib + CRC).
 */
import { deflateSync } from "node:zlib";

type RGB = [number, number, number];

const BACKGROUND_TOP: RGB = [79, 70, 229];
const BACKGROUND_BOTTOM: RGB = [14, 116, 144];
const INK: RGB = [255, 255, 255];

/** The icon on a 100-unit square: a rounded tile, two nodes, and the line that tethers them. */
function shade(x: number, y: number, unit: number, maskable: boolean): { color: RGB; alpha: number } {
  const tile = maskable ? -1 : roundedRect(x, y, 50, 50, 50, 50, 22);
  const bgAlpha = coverage(tile, unit);
  const t = y / 100;
  const bg = BACKGROUND_TOP.map((c, i) => c + (BACKGROUND_BOTTOM[i]! - c) * t) as RGB;
  const ink = Math.min(segment(x, y, 33, 67, 67, 33) - 5, circle(x, y, 31, 69, 12), circle(x, y, 69, 31, 12));
  const hole = Math.min(circle(x, y, 31, 69, 5), circle(x, y, 69, 31, 5));
  const inkAlpha = coverage(ink, unit) * (1 - coverage(hole, unit));
  const color = bg.map((c, i) => c + (INK[i]! - c) * inkAlpha) as RGB;
  return { color, alpha: bgAlpha };
}

function circle(x: number, y: number, cx: number, cy: number, r: number): number {
  return Math.hypot(x - cx, y - cy) - r;
}

function segment(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const [px, py, dx, dy] = [x - ax, y - ay, bx - ax, by - ay];
  const h = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - dx * h, py - dy * h);
}

function roundedRect(x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** How much of a pixel of `unit` size lies inside a shape at distance `d`. */
function coverage(d: number, unit: number): number {
  return Math.max(0, Math.min(1, 0.5 - d / unit));
}

/** A size × size RGBA PNG of the icon; `maskable` fills the whole square (for Android's masks). */
export function iconPNG(size: number, maskable = false): Buffer {
  const unit = 100 / size;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let py = 0; py < size; py++) {
    const row = py * (size * 4 + 1);
    raw[row] = 0;
    for (let px = 0; px < size; px++) {
      const { color, alpha } = shade((px + 0.5) * unit, (py + 0.5) * unit, unit, maskable);
      const o = row + 1 + px * 4;
      raw[o] = Math.round(color[0]);
      raw[o + 1] = Math.round(color[1]);
      raw[o + 2] = Math.round(color[2]);
      raw[o + 3] = Math.round(alpha * 255);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
