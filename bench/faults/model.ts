/**
 * The stand-in model for the fault figures. The scenario is named in the task's prompt:
 * `[faults:lines]` runs one command that prints `line 1`, `line 2` … every 200 ms until the
 * file /workspace/.faults-stop appears (at most MAX_LINES lines), then `end N`, then answers;
 * `[faults:quick]` answers at once with no tool. The answer depends only on the request, so a
 * request the worker sends again after a restart gets the same answer.
 */
import { assistantTurnsOf, type FakeModel, type RecordedRequest, type ScriptStep, startFakeModel } from "../../test/fake-model/index.ts";

export const LOOP_CALL_ID = "toolu_faults_loop";
export const STOP_FILE = ".faults-stop";
/** 6000 lines at 200 ms is 20 minutes: longer than any fault the script injects. */
export const MAX_LINES = 6000;
export const LINE_MS = 200;

const LOOP = `i=0; while [ ! -e /workspace/${STOP_FILE} ] && [ $i -lt ${MAX_LINES} ]; do i=$((i+1)); echo "line $i"; sleep ${LINE_MS / 1000}; done; echo "end $i"`;
const answer = (text: string): ScriptStep => ({ reply: { content: [{ type: "text", text }], stop_reason: "end_turn" } });

const SCENARIOS: Record<string, ScriptStep[]> = {
  lines: [{ reply: { content: [{ type: "tool_use", id: LOOP_CALL_ID, name: "bash", input: { command: LOOP, timeout: 1800 } }] } }, answer("Printed the lines.")],
  quick: [answer("Nothing to change.")],
};

function stepOf(request: RecordedRequest): ScriptStep {
  const messages = (request.body.messages ?? []) as { content: unknown }[];
  const name = /\[faults:([a-z]+)\]/.exec(JSON.stringify(messages[0]?.content ?? ""))?.[1] ?? "";
  const step = SCENARIOS[name]?.[assistantTurnsOf(request)];
  return step ?? { error: { status: 400, type: "invalid_request_error", message: `the faults model has no step for [faults:${name}]` } };
}

export function startFaultsModel(): Promise<FakeModel> {
  return startFakeModel({ script: stepOf, listen: { port: 0 } });
}
