/**
 * Test helper (internal): the stand-in worker the Docker sandbox suite runs in the base image.
 * It reads RunnerToWorker lines, acts on the prompt's first word (echo, crash, oom, stubborn,
 * bomb, ticker, inspect) and writes WorkerToRunner lines.
 */
export const STANDIN_WORKER = String.raw`
import { createInterface } from "node:readline";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
let wseq = 0;
let proxy;
const say = (text) => process.stdout.write(JSON.stringify({ wseq: ++wseq, type: "agent.text", data: { turn: 0, text: String(text) } }) + "\n");
const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const msg = JSON.parse(line);
  if (msg.type === "message" && msg.text === "call") return say("proxy:" + JSON.stringify(await callProxy(proxy)));
  if (msg.type === "message") return say("echo:" + msg.text);
  if (msg.type === "cancel") process.exit(0);
  if (msg.type !== "start") return;
  proxy = msg.proxy;
  const [mode, arg] = msg.task.prompt.split(" ");
  if (mode === "echo") { process.stdout.write("this is not json\n" + "x".repeat(300000) + "\n"); return say("started"); }
  if (mode === "crash") { say("about to crash"); process.stderr.write("boom\n"); process.exit(3); }
  if (mode === "oom") { say("allocating"); const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1)); }
  if (mode === "stubborn") { process.on("SIGTERM", () => say("ignoring SIGTERM")); say("stubborn"); return; }
  if (mode === "bomb") {
    // Starts processes until the kernel refuses, and keeps every one of them.
    say("bombing");
    let started = 0;
    let failure;
    for (let i = 0; i < 1000 && !failure; i++) {
      failure = await new Promise((resolve) => { const c = spawn("sleep", ["1000"]); c.on("error", (e) => resolve(e.code)); c.on("spawn", () => { started++; resolve(undefined); }); });
    }
    return say("bomb: " + started + " started, then " + failure);
  }
  if (mode === "ticker") { say("tick"); setInterval(() => say("tick"), 100); return; }
  if (mode === "inspect") return say(JSON.stringify(await inspect(msg.proxy, arg)));
});
function callProxy(proxy) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: proxy.socketPath, path: "/v1/messages", method: "POST",
      headers: { "x-api-key": proxy.token, "content-type": "application/json", "anthropic-version": "2023-06-01" } }, (res) => {
      let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (e) => resolve({ error: e.code }));
    req.end(JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }));
  });
}
function scan(dir, needles, found, depth = 0) {
  let names = [];
  try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const d of names) {
    const p = dir + "/" + d.name;
    if (d.isDirectory() && depth < 8) scan(p, needles, found, depth + 1);
    else if (d.isFile()) {
      try { const t = fs.readFileSync(p, "latin1"); for (const n of needles) if (t.includes(n)) found.push(p); } catch {}
    }
  }
}
async function inspect(proxy, needlesB64) {
  const needles = JSON.parse(Buffer.from(needlesB64, "base64").toString());
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const found = [];
  for (const dir of ["/workspace", "/state", "/run/tether", "/tmp", "/etc", "/root", "/opt"]) scan(dir, needles, found);
  const env = JSON.stringify(process.env);
  const mountLines = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter(Boolean);
  const probe = (dir) => { try { fs.writeFileSync(dir + "/.tether-probe", "x"); fs.unlinkSync(dir + "/.tether-probe"); return true; } catch { return false; } };
  const places = new Set(["/", "/etc", "/usr", "/bin", "/opt", "/root", "/home", "/var", "/var/tmp", ...mountLines.map((l) => l.split(" ")[1])]);
  const writable = [...places].filter(probe).sort();
  fs.writeFileSync("/workspace/written-by-worker.txt", "ok\n");
  let gitStatus;
  try { gitStatus = execFileSync("git", ["status", "--porcelain"], { cwd: "/workspace", encoding: "utf8" }); } catch (e) { gitStatus = "failed: " + e.message; }
  const reply = await callProxy(proxy);
  return {
    uid: process.getuid(), gid: process.getgid(),
    nets: fs.readdirSync("/sys/class/net"),
    capEff: status.match(/CapEff:\s*(\w+)/)[1], noNewPrivs: status.match(/NoNewPrivs:\s*(\d)/)[1],
    secretInEnv: needles.some((n) => env.includes(n)),
    envNames: Object.keys(process.env).filter((k) => /ANTHROPIC|GIT|TOKEN|KEY|SECRET/i.test(k)),
    secretFiles: found, writable, gitStatus, proxy: reply, mounts: mountLines.filter((l) => / \/(|tmp|dev\/shm|workspace|state|run\/tether) /.test(l)),
  };
}
`;
