import { describe, expect, it } from "vitest";
import type { EgressPhase, EgressPort, EgressRegistration, HostRule, Result } from "../ports.ts";
import { parseHostRule } from "./host-rule.ts";
import { allowTaskEgress, type EgressDeps, egressDefaultsOf, egressOf, openTaskEgress } from "./task-egress.ts";

class RecordingEgress implements EgressPort {
  readonly registrations: { taskID: string; reg: EgressRegistration }[] = [];
  readonly allowed: HostRule[] = [];
  async register(taskID: string, reg: EgressRegistration): Promise<void> {
    this.registrations.push({ taskID, reg });
  }
  setPhase(_taskID: string, _phase: EgressPhase): void {}
  allow(_taskID: string, rule: string): Result<HostRule> {
    const parsed = parseHostRule(rule);
    if (parsed.ok) this.allowed.push(parsed.value);
    return parsed;
  }
  totals() {
    return undefined;
  }
  async unregister(): Promise<void> {}
}

function depsWith(egress: EgressPort): EgressDeps {
  return { egress, egressDir: "/srv/egress", setupRules: [{ host: "registry.test" }], toolEnv: { HTTP_PROXY: "http://127.0.0.1:3128" } };
}

describe("a task's egress policy", () => {
  it("lets every setup phase reach the host's registries and the operator's rules, and points the tools at the same registries", () => {
    const registries = { npmRegistry: "https://npm.mirror.test/", pipIndexURL: "https://pypi.mirror.test:8443/simple", pipExtraIndexURLs: [], aptURLs: [] };
    const defaults = egressDefaultsOf(registries, ["*.cdn.test", "git.test:8080"], false);
    expect(defaults.setupRules).toEqual([{ host: "npm.mirror.test", port: 443 }, { host: "pypi.mirror.test", port: 8443 }, { host: "*.cdn.test" }, { host: "git.test", port: 8080 }]);
    expect(defaults.toolEnv).toMatchObject({ HTTPS_PROXY: "http://127.0.0.1:3128", npm_config_registry: "https://npm.mirror.test/", NO_PROXY: "localhost,127.0.0.1,::1" });
    expect(egressDefaultsOf(registries, [], true).toolEnv.NO_PROXY).toBe("localhost");
  });

  it("gives each task its own socket directory and the tools' environment", () => {
    const deps = depsWith(new RecordingEgress());
    const a = egressOf(deps, "t1");
    const b = egressOf(deps, "t2");
    expect(a.socketPath).toMatch(/^\/srv\/egress\/[0-9a-f]{16}\/egress\.sock$/);
    expect(b.socketPath).not.toBe(a.socketPath);
    expect(a.env).toEqual({ HTTP_PROXY: "http://127.0.0.1:3128" });
  });

  it("lets the setup phase reach the runner's defaults and the environment's setup hosts, the agent phase its agent hosts, both what the user allowed", async () => {
    const egress = new RecordingEgress();
    await openTaskEgress(depsWith(egress), "t1", { network: { setup: ["mirror.test"], agent: ["api.test:8443", "not a host"] }, allowed: ["*.cdn.test"] }, "setup", () => {});
    const { reg } = egress.registrations[0]!;
    expect(reg.phase).toBe("setup");
    expect(reg.setupRules).toEqual([{ host: "registry.test" }, { host: "mirror.test" }]);
    expect(reg.agentRules).toEqual([{ host: "api.test", port: 8443 }]);
    expect(reg.allowed).toEqual([{ host: "*.cdn.test" }]);

    await openTaskEgress(depsWith(egress), "t2", { allowed: [] }, "agent", () => {});
    expect(egress.registrations[1]!.reg).toMatchObject({ phase: "agent", setupRules: [{ host: "registry.test" }], agentRules: [], allowed: [] });
  });

  it("applies the user's allow and hands back the rules to keep; a rule the proxy refuses is a warning and keeps nothing", () => {
    const egress = new RecordingEgress();
    const ok = allowTaskEgress(depsWith(egress), "t1", { allowed: ["a.test"] }, "b.test:8080");
    expect(ok.allowed).toEqual(["a.test", "b.test:8080"]);
    expect(ok.event).toEqual({ type: "log", data: { level: "info", message: "egress to b.test:8080 allowed for the rest of this task" } });
    expect(egress.allowed).toEqual([{ host: "b.test", port: 8080 }]);

    const bad = allowTaskEgress(depsWith(egress), "t1", { allowed: ["a.test"] }, "http://b.test/");
    expect(bad.allowed).toBeUndefined();
    expect(bad.event).toMatchObject({ type: "log", data: { level: "warn" } });
  });
});
