/** Terminal output with its colours. Text goes into text nodes, never into markup. */
import { useMemo } from "preact/hooks";
import { ansiToSpans, type AnsiSpan } from "../../shared/client/light.ts";

export function AnsiText({ text }: { text: string }) {
  const spans = useMemo(() => ansiToSpans(text), [text]);
  return <>{spans.map(renderSpan)}</>;
}

function renderSpan(span: AnsiSpan, i: number) {
  const s = span.style;
  if (!s.fg && !s.bg && !s.bold && !s.dim && !s.italic && !s.underline) return span.text;
  const style: Record<string, string> = {};
  if (s.fg) style.color = s.fg;
  if (s.bg) style.backgroundColor = s.bg;
  if (s.bold) style.fontWeight = "700";
  if (s.dim) style.opacity = "0.7";
  if (s.italic) style.fontStyle = "italic";
  if (s.underline) style.textDecoration = "underline";
  return (
    <span key={i} style={style}>
      {span.text}
    </span>
  );
}
