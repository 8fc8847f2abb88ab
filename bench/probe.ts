// bun bench/probe.ts URL N
// GET URL N times, one after another, each over a new connection, from a
// process of its own (so that the bench's own client, holding thousands of
// sockets, does not add its pauses); prints {times, statuses} as JSON.
import { freshGet } from "./lib.ts";

const [url, n] = [process.argv[2]!, Number(process.argv[3] ?? 100)];
const times: number[] = [];
const statuses: number[] = [];
for (let i = 0; i < n; i++) {
  const r = await freshGet(url);
  times.push(r.ms);
  statuses.push(r.status);
}
console.log(JSON.stringify({ times, statuses }));
