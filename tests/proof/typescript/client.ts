// A TypeScript client of the agent, as a user writes one: types generated from openapi.json
// by openapi-typescript (./schema.ts, made by the test), calls through openapi-fetch.
//
// Run as `node client.js <base url> <token>` against an agent whose default working
// directory holds a Makefile with a `test` target. Prints one line per step and exits 0, or
// throws at the first answer that is not the one expected.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type ErrorResponse = components["schemas"]["ErrorResponse"];
type ProcessOutput = components["schemas"]["ProcessOutputResponse"];

const [baseUrl, token] = process.argv.slice(2);
if (!baseUrl || !token) {
  throw new Error("usage: node client.js <base url> <token>");
}

const agent = createClient<paths>({
  baseUrl,
  headers: { Authorization: `Bearer ${token}` },
});

function check(condition: boolean, what: string, got: unknown): asserts condition {
  if (!condition) {
    throw new Error(`${what}: got ${JSON.stringify(got)}`);
  }
  console.log(`ok: ${what}`);
}

async function start(command: string, stdin = false): Promise<string> {
  const { data, error } = await agent.POST("/api/v0/processes/start", {
    body: stdin ? { command, stdin } : { command },
  });
  if (!data) {
    throw new Error(`start ${command}: ${JSON.stringify(error)}`);
  }
  return data.id;
}

async function waitFor(id: string): Promise<ProcessOutput> {
  const { data, error } = await agent.GET("/api/v0/processes/{id}/output", {
    params: { path: { id }, query: { wait: true, timeout_ms: 60_000 } },
  });
  if (!data) {
    throw new Error(`output of ${id}: ${JSON.stringify(error)}`);
  }
  return data;
}

function checkError(
  got: { error?: ErrorResponse; response: Response },
  status: number,
  message: string,
  what: string,
): void {
  check(
    got.response.status === status && got.error?.message === message,
    `${what} answers ${status} ${message}`,
    { status: got.response.status, error: got.error },
  );
}

// start -> wait: the call written the obvious way.
const started = await agent.POST("/api/v0/processes/start", { body: { command: "make test" } });
check(started.data?.started === true, "start make test", started.data);
const id = started.data.id;
const output = await agent.GET("/api/v0/processes/{id}/output", {
  params: { path: { id }, query: { wait: true } },
});
check(
  output.data?.running === false && output.data.exit_code === 0 && output.data.output === "tests passed\n",
  "wait for make test",
  output.data,
);

// list
const listed = await agent.GET("/api/v0/processes/list");
const info = listed.data?.processes.find((p) => p.id === id);
check(info?.command === "make test" && info.exit_code === 0, "list shows make test", info);

// input
const reader = await start('read name; echo "hello, $name"', true);
const queued = await agent.POST("/api/v0/processes/{id}/input", {
  params: { path: { id: reader } },
  body: { data: "Ada\n", close: true },
});
check(queued.data?.queued === 4 && queued.data.stdin_open === false, "input queued", queued.data);
const greeted = await waitFor(reader);
check(greeted.output === "hello, Ada\n" && greeted.exit_code === 0, "input read", greeted);

// stream
const printer = await start("printf 'one\\n'; printf 'two\\n'; exit 3");
const streamed = await agent.GET("/api/v0/processes/{id}/stream", {
  params: { path: { id: printer }, query: { since: 0 } },
  parseAs: "text",
});
const events = (streamed.data ?? "")
  .split("\n\n")
  .map((block) => Object.fromEntries(block.split("\n").map((line) => line.split(": ", 2))))
  .filter((fields: Record<string, string>) => "event" in fields);
const text = events
  .filter((e) => e.event === "output")
  .map((e) => (JSON.parse(e.data) as components["schemas"]["OutputEvent"]).output)
  .join("");
const exit = events.find((e) => e.event === "exit");
const exitCode = exit && (JSON.parse(exit.data) as components["schemas"]["ExitEvent"]).exit_code;
check(text === "one\ntwo\n" && exitCode === 3, "stream to the exit", streamed.data);

// signal
const sleeper = await start("sleep 300");
const signalled = await agent.POST("/api/v0/processes/{id}/signal", {
  params: { path: { id: sleeper } },
  body: { signal: "terminate" },
});
check(
  signalled.data?.message === `Signal "terminate" sent to process "${sleeper}".`,
  "signal terminate",
  signalled.data,
);
const ended = await waitFor(sleeper);
check(ended.running === false && ended.exit_code === -1, "terminated", ended);

// 400, 404, 409: the error body is typed as the document's ErrorResponse.
checkError(
  await agent.POST("/api/v0/processes/start", { body: { command: "" } }),
  400,
  "Command is required.",
  "an empty command",
);
checkError(
  await agent.GET("/api/v0/processes/{id}/output", {
    params: { path: { id: "no-such-process" } },
  }),
  404,
  'Process "no-such-process" not found.',
  "an unknown id",
);
checkError(
  await agent.POST("/api/v0/processes/{id}/signal", {
    params: { path: { id: sleeper } },
    body: { signal: "kill" },
  }),
  409,
  `Process "${sleeper}" is not running.`,
  "a signal to an exited process",
);

// What the types refuse: each line below must fail to type-check (tsc reports an unused
// directive otherwise), so the generated types are as strict as the document.
async function refusedByTheTypes(): Promise<void> {
  // @ts-expect-error: command is required
  await agent.POST("/api/v0/processes/start", { body: { workdir: "/tmp" } });
  // @ts-expect-error: wait is a boolean, not a string
  await agent.GET("/api/v0/processes/{id}/output", { params: { path: { id }, query: { wait: "true" } } });
  // @ts-expect-error: timeout_ms is a number
  await agent.GET("/api/v0/processes/{id}/output", { params: { path: { id }, query: { timeout_ms: "10" } } });
  // @ts-expect-error: only kill and terminate are signals
  await agent.POST("/api/v0/processes/{id}/signal", { params: { path: { id } }, body: { signal: "hup" } });
}
void refusedByTheTypes;
