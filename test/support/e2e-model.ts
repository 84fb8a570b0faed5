/**
 * The stand-in model for end-to-end tests, shared by every task of a suite: the scenario is
 * named in the task's prompt (`[e2e:NAME]`) and the step is the number of assistant messages
 * already in the request's history. The answer depends only on the request, so a request the
 * worker sends again (after a retry or a restart) gets the same answer. The model plays
 * today's model (thinking blocks, see test/fake-model) with a context window of
 * `E2E_CONTEXT_WINDOW` tokens, which only the `long` scenario outgrows.
 */
import { SUMMARY_HEADING, SUMMARY_REQUEST } from "../../worker-image/src/compaction.ts";
import { assistantTurnsOf, type FakeModel, type RecordedRequest, type ScriptStep, startFakeModel } from "../fake-model/index.ts";
import { fixTheFailingTestScript, followUpScript } from "../fake-model/scripts.ts";

/** Lines the `slow` scenario's long command prints, one every `SLOW_LINE_MS`. */
export const SLOW_LINES = 24;
export const SLOW_LINE_MS = 250;
export const SLOW_SUMMARY = "Fixed `add`; the test passes.";
export const CANCEL_NOTE = "started on the notes\n";
export const QUICK_ANSWER = "Nothing to change.";
export const E2E_CONTEXT_WINDOW = 40_000;
export const BUDGET_ANSWER = "Went on after the raise.";
export const WALL_TICKS = 60;
export const LONG_SUMMARY = "Printed long listings in several rounds; nothing is left but to answer.";
export const LONG_ANSWER = "Finished after compacting the conversation.";
export const ENV_ANSWER = "The tests pass and the registry answers.";
/** The `env` scenario's second command: asks the registry until it answers (the phone allows it meanwhile), at most 90 times. */
export const ENV_RETRY = "for i in $(seq 1 90); do npm view tether-dep version --fetch-retries=0 && exit 0; sleep 1; done; exit 1";

export const ASK_ANSWER = "Asked for both and went on.";
/** Asks the stand-in registry once, through the egress proxy. */
export const ASK_NET_COMMAND = "npm view tether-dep version --fetch-retries=0";
export const PLAN_TEXT = "1. Fix add in math.js so it adds.";
export const PLAN_ANSWER = "Carried out the plan.";

const bash = (id: string, command: string): ScriptStep => ({ reply: { content: [{ type: "tool_use", id, name: "bash", input: { command } }] } });

const SCENARIOS: Record<string, ScriptStep[]> = {
  /** Fix the failing test (six calls), then a follow-up that adds sub.js (two calls). */
  fix: [...fixTheFailingTestScript(), ...followUpScript()],
  /** Fix math.js, run a command that prints a numbered line every 250 ms for 6 s, run the test, answer. */
  slow: [
    {
      reply: {
        content: [
          { type: "text", text: "Fixing add first." },
          { type: "tool_use", id: "toolu_slow_edit", name: "str_replace_based_edit_tool", input: { command: "str_replace", path: "math.js", old_str: "return a - b;", new_str: "return a + b;" } },
        ],
      },
    },
    bash("toolu_slow_loop", `for i in $(seq 1 ${SLOW_LINES}); do echo "line $i"; sleep ${SLOW_LINE_MS / 1000}; done`),
    bash("toolu_slow_test", "node test.js"),
    { reply: { content: [{ type: "text", text: SLOW_SUMMARY }], stop_reason: "end_turn" } },
  ],
  /** Write a note, then a command that ticks for a minute: the test cancels it midway. */
  cancel: [
    { reply: { content: [{ type: "tool_use", id: "toolu_note", name: "str_replace_based_edit_tool", input: { command: "create", path: "notes.txt", file_text: CANCEL_NOTE } }] } },
    bash("toolu_ticks", "for i in $(seq 1 240); do echo tick $i; sleep 0.25; done"),
    { reply: { content: [{ type: "text", text: "Done ticking." }], stop_reason: "end_turn" } },
  ],
  /** Run the project's tests (they need the dependency setup installed) and show an environment variable, then ask the registry until it answers. */
  env: [bash("toolu_env_test", 'npm test && echo "mode=$FIXTURE_MODE"'), bash("toolu_env_view", ENV_RETRY), { reply: { content: [{ type: "text", text: ENV_ANSWER }], stop_reason: "end_turn" } }],
  /** Two commands and an answer: three model calls, one past a `maxTurns` of 2. */
  turns: [bash("toolu_turns_1", "echo one > one.txt"), bash("toolu_turns_2", "echo two > two.txt"), { reply: { content: [{ type: "text", text: BUDGET_ANSWER }], stop_reason: "end_turn" } }],
  /** A command that ticks for about 15 s (past a short wall-time limit), then an answer. */
  wall: [bash("toolu_wall_ticks", `for i in $(seq 1 ${WALL_TICKS}); do echo tick $i; sleep 0.25; done`), { reply: { content: [{ type: "text", text: BUDGET_ANSWER }], stop_reason: "end_turn" } }],
  /** `ask` mode: a command and a file write, each asked first, then an answer. */
  ask: [
    bash("toolu_ask_cmd", "echo asked > asked.txt"),
    { reply: { content: [{ type: "tool_use", id: "toolu_ask_write", name: "str_replace_based_edit_tool", input: { command: "create", path: "written.txt", file_text: "written\n" } }] } },
    { reply: { content: [{ type: "text", text: ASK_ANSWER }], stop_reason: "end_turn" } },
  ],
  /** `ask` mode on the network: a command that asks the registry (its attempt asks the owner too), then an answer. */
  "ask-net": [bash("toolu_ask_net", ASK_NET_COMMAND), { reply: { content: [{ type: "text", text: ASK_ANSWER }], stop_reason: "end_turn" } }],
  /** `plan` mode: a plan (the turn the owner approves), then fixing math.js, then an answer. */
  plan: [
    { reply: { content: [{ type: "text", text: PLAN_TEXT }], stop_reason: "end_turn" } },
    { reply: { content: [{ type: "tool_use", id: "toolu_plan_edit", name: "str_replace_based_edit_tool", input: { command: "str_replace", path: "math.js", old_str: "return a - b;", new_str: "return a + b;" } }] } },
    { reply: { content: [{ type: "text", text: PLAN_ANSWER }], stop_reason: "end_turn" } },
  ],
  /** One answer, no tools. */
  quick: [{ reply: { content: [{ type: "text", text: QUICK_ANSWER }], stop_reason: "end_turn" } }],
};

function scenarioOf(request: RecordedRequest): { name: string; step: number } | undefined {
  const messages = (request.body.messages ?? []) as { role: string; content: unknown }[];
  const name = /\[e2e:([a-z-]+)\]/.exec(JSON.stringify(messages[0]?.content ?? ""))?.[1];
  if (!name) return undefined;
  return { name, step: assistantTurnsOf(request) };
}

/** `long`: a long listing every round until the conversation was compacted, then the answer. */
function longStep(request: RecordedRequest, step: number): ScriptStep {
  if (JSON.stringify((request.body.messages as unknown[])[0]).includes(SUMMARY_HEADING)) {
    return { reply: { content: [{ type: "thinking", thinking: "The summary says the listings are done." }, { type: "text", text: LONG_ANSWER }] } };
  }
  return { reply: { content: [{ type: "text", text: `Listing round ${step}.` }, { type: "tool_use", id: `toolu_long_${step}`, name: "bash", input: { command: "seq 1 30000" } }] } };
}

function answer(request: RecordedRequest): ScriptStep {
  const last = JSON.stringify((request.body.messages as unknown[]).at(-1));
  if (last.includes(SUMMARY_REQUEST)) return { reply: { content: [{ type: "text", text: LONG_SUMMARY }] } };
  const found = scenarioOf(request);
  if (!found) return { error: { status: 400, type: "invalid_request_error", message: "the e2e model found no [e2e:NAME] in the first message" } };
  if (found.name === "long") return longStep(request, found.step);
  // `forever` never ends a turn: every answer is one more tool call.
  if (found.name === "forever") return bash(`toolu_forever_${found.step}`, `echo round ${found.step}`);
  const step = SCENARIOS[found.name]?.[found.step];
  if (!step) return { error: { status: 400, type: "invalid_request_error", message: `the e2e model has no step ${found.step} of ${found.name}` } };
  return step;
}

export function startE2EModel(): Promise<FakeModel> {
  return startFakeModel({ script: (request) => answer(request), listen: { port: 0 }, contextWindow: E2E_CONTEXT_WINDOW });
}

/** How many requests the model answered for a task's scenario (its prompt carries `tag`). */
export function requestsFor(model: FakeModel, tag: string): number {
  return model.requests.filter((r) => JSON.stringify((r.body.messages as unknown[])[0]).includes(tag)).length;
}
