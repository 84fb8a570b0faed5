import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { describeFailure } from "./failure.ts";
import { MalformedAnswer } from "./loop.ts";

const apiError = (status: number, type: string, headers: Record<string, string> = {}) =>
  Anthropic.APIError.generate(status, { type: "error", error: { type, message: `${type} here` } }, undefined, new Headers(headers));

describe("describeFailure", () => {
  it("recognises a budget refusal by status 402, error type, or the runner proxy's header", () => {
    expect(describeFailure(apiError(402, "payment_required")).code).toBe("budget_exceeded");
    expect(describeFailure(apiError(403, "budget_exceeded")).code).toBe("budget_exceeded");
    expect(describeFailure(apiError(400, "invalid_request_error", { "x-tether-budget-exceeded": "true" })).code).toBe("budget_exceeded");
    expect(describeFailure(apiError(400, "invalid_request_error")).code).toBe("model_error");
  });

  it("names proxy refusals, malformed answers and bugs", () => {
    expect(describeFailure(apiError(401, "authentication_error")).message).toMatch(/token/);
    expect(describeFailure(new MalformedAnswer("no content"))).toEqual({ code: "model_error", message: "malformed model answer: no content" });
    expect(describeFailure(new Anthropic.APIConnectionError({ message: "down" })).message).toMatch(/cannot reach the model proxy/);
    expect(describeFailure(new TypeError("x is undefined")).code).toBe("worker_error");
    expect(describeFailure(new Anthropic.AnthropicError("aborted", { cause: new Error("aborted") })).message).toMatch(/kept breaking off/);
    expect(describeFailure(new Anthropic.AnthropicError("bad", { cause: new SyntaxError("Unexpected token") })).message).toMatch(/^malformed model answer/);
  });
});
