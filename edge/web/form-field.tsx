/**
 * A form's labelled fields: each with its hint and its error under it, wired for screen
 * readers (`aria-invalid`, `aria-describedby`). The forms (new task, environments) keep
 * their own values and errors and render each field through the function this returns.
 */
import type { JSX } from "preact";

type InputProps = Record<string, unknown>;

export function formFields<N extends string>(values: Record<N, string>, errors: Partial<Record<N, string>>, set: (name: N) => (e: { currentTarget: { value: string } }) => void) {
  return (name: N, label: string, input: (props: InputProps) => JSX.Element, hint?: string) => (
    <div class="field">
      <label for={`f-${name}`}>{label}</label>
      {input({
        id: `f-${name}`,
        name,
        value: values[name],
        onInput: set(name),
        "aria-invalid": errors[name] ? "true" : undefined,
        "aria-describedby": [errors[name] && `e-${name}`, hint && `h-${name}`].filter(Boolean).join(" ") || undefined,
      })}
      {hint && (
        <p class="hint" id={`h-${name}`}>
          {hint}
        </p>
      )}
      {errors[name] && (
        <p class="field-error" id={`e-${name}`}>
          {errors[name]}
        </p>
      )}
    </div>
  );
}
