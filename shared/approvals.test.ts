import { describe, expect, it } from "vitest";
import { AnswerApprovalRequest, approvalPrefix, commandPrefix, ruleCovers } from "./approvals.ts";
import { AgentEventBody, RunnerEventBody } from "./events.ts";
import { Command, RunnerToWorker, ViewerToEdge } from "./protocol.ts";
import { CreateTaskRequest } from "./task.ts";

describe("approvals", () => {
  it("takes a command's program and its subcommand as the prefix, never an option or a path", () => {
    expect(commandPrefix("npm test -- --watch")).toBe("npm test");
    expect(commandPrefix("  git   status ")).toBe("git status");
    expect(commandPrefix("node test.js")).toBe("node");
    expect(commandPrefix("ls -la")).toBe("ls");
    expect(approvalPrefix("write", "src/a.ts")).toBe("src/a.ts");
    expect(approvalPrefix("plan", "1. x")).toBeUndefined();
    expect(approvalPrefix("egress", "Registry.Test:443")).toBe("registry.test");
    expect(approvalPrefix("egress", "registry.test:4873")).toBe("registry.test:4873");
    expect(approvalPrefix("egress", "[::1]:8080")).toBe("[::1]:8080");
    expect(ruleCovers({ kind: "egress", prefix: "registry.test" }, "egress", "registry.test:443")).toBe(true);
    expect(ruleCovers({ kind: "egress", prefix: "registry.test" }, "egress", "registry.test:22")).toBe(false);
  });

  it("lets a rule cover the same prefix only, and nothing chained, piped or substituted", () => {
    const rule = { kind: "command" as const, prefix: "npm test" };
    expect(ruleCovers(rule, "command", "npm test")).toBe(true);
    expect(ruleCovers(rule, "command", "npm  test --coverage")).toBe(true);
    expect(ruleCovers(rule, "command", "npm testing")).toBe(false);
    expect(ruleCovers(rule, "write", "npm test")).toBe(false);
    for (const chained of ["npm test; rm -rf /", "npm test && curl x", "npm test | sh", "npm test $(curl x)", "npm test `id`", "npm test > /etc/x", "npm test\nrm x"]) {
      expect(ruleCovers(rule, "command", chained), chained).toBe(false);
    }
    expect(ruleCovers({ kind: "write", prefix: "a.ts" }, "write", "a.ts")).toBe(true);
    expect(ruleCovers({ kind: "write", prefix: "a.ts" }, "write", "a.tsx")).toBe(false);
  });

  it("takes text with edit and only with edit", () => {
    expect(AnswerApprovalRequest.safeParse({ decision: "edit", text: "1. a" }).success).toBe(true);
    expect(AnswerApprovalRequest.safeParse({ decision: "always" }).success).toBe(true);
    expect(AnswerApprovalRequest.safeParse({ decision: "edit" }).success).toBe(false);
    expect(AnswerApprovalRequest.safeParse({ decision: "no", text: "x" }).success).toBe(false);
  });
});

describe("approvals on the wire", () => {
  it("takes the frames, commands, lines and events of approvals, and refuses bad ones", () => {
    expect(ViewerToEdge.safeParse({ type: "approval", approvalID: "a1", decision: "always" }).success).toBe(true);
    expect(ViewerToEdge.safeParse({ type: "approval", approvalID: "a 1", decision: "yes" }).success).toBe(false);
    expect(ViewerToEdge.safeParse({ type: "approval", approvalID: "a1", decision: "sure" }).success).toBe(false);
    expect(Command.safeParse({ seq: 3, kind: "approval", approvalID: "a1", approved: true, text: "1. x" }).success).toBe(true);
    expect(Command.safeParse({ seq: 3, kind: "approval", approvalID: "a1" }).success).toBe(false);
    expect(RunnerToWorker.safeParse({ type: "approval", approvalID: "a1", approved: false }).success).toBe(true);
    expect(RunnerToWorker.safeParse({ type: "approval", approvalID: "a1", approved: "yes" }).success).toBe(false);
    const asked = { type: "approval.requested", data: { approvalID: "a1", kind: "command", subject: "ls" } };
    expect(AgentEventBody.safeParse(asked).success).toBe(true);
    expect(AgentEventBody.safeParse({ ...asked, data: { ...asked.data, kind: "root" } }).success).toBe(false);
    // Only the edge answers: neither the worker nor the runner may put an answer or an expiry in the log.
    for (const type of ["approval.answered", "approval.expired"]) {
      const body = { type, data: { approvalID: "a1", decision: "yes", by: "x", afterSeconds: 1 } };
      expect(AgentEventBody.safeParse(body).success, type).toBe(false);
      expect(RunnerEventBody.safeParse(body).success, type).toBe(false);
    }
    const repo = { url: "https://example.com/r.git" };
    expect(CreateTaskRequest.safeParse({ repo, prompt: "x", mode: "plan", approvalTimeoutSeconds: 600 }).success).toBe(true);
    expect(CreateTaskRequest.safeParse({ repo, prompt: "x", mode: "later" }).success).toBe(false);
    expect(CreateTaskRequest.safeParse({ repo, prompt: "x", approvalTimeoutSeconds: 9 }).success).toBe(false);
  });
});
