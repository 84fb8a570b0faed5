/**
 * A form's labelled fields: each with its hint and its error under it, wired for screen
 * readers (`aria-invalid`, `aria-describedby`). The forms (new task, environments) keep
 * their own values and errors and render each field through the function this returns.
 * Beside them, the line that says why an action failed.
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

/** Why an action failed, read out at once by screen readers; nothing when it did not. */
export function ErrorLine({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="field-error" role="alert">
      {error}
    </p>
  );
}
