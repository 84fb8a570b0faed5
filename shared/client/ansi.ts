/**
 * Turns terminal output with ANSI escape codes into styled text spans. Colours (16, 256 and
 * true colour), bold, dim, italic, underline and inverse are kept; every other escape
 * sequence (cursor moves, titles, hyperlinks) is dropped. A carriage return rewrites its
 * line, so a progress bar shows its last state. Spans hold plain text: a renderer that puts it
 * in text nodes (or escapes it) can never be made to emit markup by the output.
 */

export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

export interface AnsiSpan {
  text: string;
  style: AnsiStyle;
}

/** The 16 colours, picked to read well on a dark background. */
export const ANSI_PALETTE = [
  "#4b5563", "#f87171", "#4ade80", "#facc15", "#60a5fa", "#e879f9", "#22d3ee", "#e5e7eb",
  "#9ca3af", "#fca5a5", "#86efac", "#fde047", "#93c5fd", "#f0abfc", "#67e8f9", "#ffffff",
] as const;

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and two-byte escapes.
const ESCAPE = /\u001b\[([0-9;:?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]/g;

export function ansiToSpans(input: string): AnsiSpan[] {
  const text = applyCarriageReturns(input);
  const spans: AnsiSpan[] = [];
  let state: State = { fg: undefined, bg: undefined, bold: false, dim: false, italic: false, underline: false, inverse: false };
  let last = 0;
  for (const match of text.matchAll(ESCAPE)) {
    push(spans, text.slice(last, match.index), state);
    last = match.index + match[0].length;
    if (match[2] === "m") state = applySGR(state, match[1] ?? "");
  }
  push(spans, text.slice(last), state);
  return spans;
}

/** The text without any escape sequence. */
export function stripAnsi(input: string): string {
  return ansiToSpans(input)
    .map((s) => s.text)
    .join("");
}

interface State {
  fg: string | undefined;
  bg: string | undefined;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
}

function push(spans: AnsiSpan[], text: string, state: State): void {
  if (!text) return;
  const style: AnsiStyle = {};
  const fg = state.inverse ? (state.bg ?? "#111827") : state.fg;
  const bg = state.inverse ? (state.fg ?? ANSI_PALETTE[7]) : state.bg;
  if (fg) style.fg = fg;
  if (bg) style.bg = bg;
  if (state.bold) style.bold = true;
  if (state.dim) style.dim = true;
  if (state.italic) style.italic = true;
  if (state.underline) style.underline = true;
  const prev = spans[spans.length - 1];
  if (prev && sameStyle(prev.style, style)) prev.text += text;
  else spans.push({ text, style });
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return a.fg === b.fg && a.bg === b.bg && !a.bold === !b.bold && !a.dim === !b.dim && !a.italic === !b.italic && !a.underline === !b.underline;
}

function applySGR(prev: State, params: string): State {
  const s = { ...prev };
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) Object.assign(s, { fg: undefined, bg: undefined, bold: false, dim: false, italic: false, underline: false, inverse: false });
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 7) s.inverse = true;
    else if (c === 22) s.bold = s.dim = false;
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c === 27) s.inverse = false;
    else if (c >= 30 && c <= 37) s.fg = ANSI_PALETTE[c - 30];
    else if (c === 39) s.fg = undefined;
    else if (c >= 40 && c <= 47) s.bg = ANSI_PALETTE[c - 40];
    else if (c === 49) s.bg = undefined;
    else if (c >= 90 && c <= 97) s.fg = ANSI_PALETTE[c - 90 + 8];
    else if (c >= 100 && c <= 107) s.bg = ANSI_PALETTE[c - 100 + 8];
    else if (c === 38 || c === 48) {
      const [color, used] = extendedColor(codes, i + 1);
      if (c === 38) s.fg = color;
      else s.bg = color;
      i += used;
    }
  }
  return s;
}

/** `5;n` (256 colours) or `2;r;g;b` (true colour) after a 38 or 48. */
function extendedColor(codes: number[], at: number): [string | undefined, number] {
  if (codes[at] === 5) {
    const n = codes[at + 1];
    return [n === undefined ? undefined : color256(n), 2];
  }
  if (codes[at] === 2) {
    const [r, g, b] = [codes[at + 1], codes[at + 2], codes[at + 3]];
    if (r === undefined || g === undefined || b === undefined) return [undefined, 4];
    return [`#${hex(r)}${hex(g)}${hex(b)}`, 4];
  }
  return [undefined, 0];
}

function color256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return ANSI_PALETTE[n];
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `#${hex(v)}${hex(v)}${hex(v)}`;
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `#${hex(level(Math.floor(i / 36)))}${hex(level(Math.floor(i / 6) % 6))}${hex(level(i % 6))}`;
}

function hex(v: number): string {
  return Math.max(0, Math.min(255, v)).toString(16).padStart(2, "0");
}

/** Within each line, a lone `\r` starts the line over: what follows it is what stays. */
function applyCarriageReturns(text: string): string {
  if (!text.includes("\r")) return text;
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((line) => {
      const parts = line.split("\r").filter((part) => part !== "");
      return parts[parts.length - 1] ?? "";
    })
    .join("\n");
}
