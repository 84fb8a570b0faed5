/**
 * The relay's port (`TETHER_EGRESS_PORT`) and the proxy variables every tool in a container
 * reads, pointed at the relay inside it
 * (worker-image/src/egress-relay.ts, on 127.0.0.1:RELAY_PORT): curl, pip, git, node's and
 * python's HTTP clients by `HTTP(S)_PROXY` in both cases, npm by its own keys, pip by
 * `PIP_PROXY`, git by `http.proxy` through `GIT_CONFIG_*`.
 */

/** The relay's port inside the container; each container has its own loopback. */
export const RELAY_PORT = 3128;

/**
 * `loopbackThroughProxy`: loopback addresses go through the proxy too (a test's stand-in
 * registry on the host's 127.0.0.1); otherwise they stay inside the container.
 */
export function proxyEnv(opts: { loopbackThroughProxy?: boolean } = {}): Record<string, string> {
  const url = `http://127.0.0.1:${RELAY_PORT}`;
  const noProxy = opts.loopbackThroughProxy ? "localhost" : "localhost,127.0.0.1,::1";
  return {
    TETHER_EGRESS_PORT: String(RELAY_PORT),
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    npm_config_proxy: url,
    npm_config_https_proxy: url,
    npm_config_noproxy: noProxy,
    PIP_PROXY: url,
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.proxy",
    GIT_CONFIG_VALUE_0: url,
  };
}
