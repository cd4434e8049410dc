// bench/node-sdk/cancel-batches.mjs — the Node SDK peer of the rate-limited
// section (bench/ratelimit.sh): cancels every batch ID of a file at a given
// concurrency with the official SDK (client.batches.cancel) and its own
// retries (maxRetries: the SDK's default when not given), counting outcomes;
// prints one JSON line. Base URL and key from OPENAI_BASE_URL/OPENAI_API_KEY.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const [file, concurrencyArg, maxRetriesArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg || 64);
const client = new OpenAI(maxRetriesArg ? { maxRetries: Number(maxRetriesArg) } : {});
const ids = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
let next = 0, ok = 0, failed = 0;
const t0 = process.hrtime.bigint();

async function worker() {
  while (next < ids.length) {
    const id = ids[next++];
    try {
      await client.batches.cancel(id);
      ok++;
    } catch (e) {
      // a batch the server says it cannot cancel (already finished) was answered: not a failure
      if (e && e.status === 400 && /^Cannot cancel/.test(e.error?.message || e.message || "")) ok++;
      else failed++;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ ok, failed, seconds }));
