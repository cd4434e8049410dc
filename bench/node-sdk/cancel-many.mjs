// bench/node-sdk/cancel-many.mjs — the Node SDK peer of bench/cancel-many.lua:
// cancels every "thread_id run_id" line of a file at a given concurrency with
// the official SDK (client.beta.threads.runs.cancel), counting outcomes only;
// prints one JSON line. Base URL and key from OPENAI_BASE_URL/OPENAI_API_KEY;
// a self-signed server's certificate through NODE_EXTRA_CA_CERTS.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [file, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg || 64);
const client = new OpenAI({ maxRetries: 0 });
const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
let next = 0, ok = 0, failed = 0;
const t0 = process.hrtime.bigint();

async function worker() {
  while (next < lines.length) {
    const [threadId, runId] = lines[next++].split(" ");
    try {
      await client.beta.threads.runs.cancel(threadId, runId);
      ok++;
    } catch {
      failed++;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ ok, failed, seconds, per_second: (ok + failed) / seconds }));
