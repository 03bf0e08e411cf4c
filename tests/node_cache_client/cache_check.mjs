// node-redis' client-side cache (RESP3, clientSideCache) against a server on a Unix
// socket: prints one JSON line saying what reached the server and what was read.
import { createClient } from "redis";

const path = process.argv[2];
const cached = createClient({ socket: { path }, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
const other = createClient({ socket: { path } });
await cached.connect();
await other.connect();

async function calls(command) {
  const info = await other.info("commandstats");
  const match = info.match(new RegExp(`cmdstat_${command}:calls=(\\d+)`));
  return match ? Number(match[1]) : 0;
}

async function until(read, wanted) {
  for (let i = 0; i < 250; i++) {
    if ((await read()) === wanted) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

await other.set("k", "v1");
const before = await calls("get");
const reads = [await cached.get("k"), await cached.get("k"), await cached.get("k")];
const served = (await calls("get")) - before;
await other.set("k", "v2");
const invalidated = await until(() => cached.get("k"), "v2");
await other.del("k");
const deleted = await until(() => cached.get("k"), null);
console.log(JSON.stringify({ reads, served, invalidated, deleted }));
await cached.quit();
await other.quit();
