/** The egress proxy: each task's governed way out of its container. */
export { EgressProxy, type Resolver } from "./egress-proxy.ts";
export { formatRule, type HostRule, parseHostRule } from "./host-rule.ts";
export { type HostRegistries, readHostRegistries, registryEnv, rulesOfRegistries } from "./host-registries.ts";
export { proxyEnv, RELAY_PORT } from "./proxy-env.ts";
export { allowTaskEgress, type EgressDeps, egressDefaultsOf, egressOf, openTaskEgress, type TaskEgressPolicy } from "./task-egress.ts";
