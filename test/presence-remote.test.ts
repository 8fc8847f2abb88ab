// The other instances' sockets an instance keeps in memory (realtime/presence-pg.ts):
// a reload reads agent_sockets again, and a socket that closed while that read was
// on its way must stay closed (else the agent stays "online elsewhere": no offline
// frame, no webhook).
import { describe, expect, test } from "bun:test";
import { RemoteSockets } from "../server/realtime/presence-pg.ts";

const open = (sessionId: string, openedAt = 1) => ({ agentId: "agt_a", sessionId, instanceId: "ins_other", openedAt });
const closed = (sessionId: string) => ({ agentId: "agt_a", sessionId, instanceId: "ins_other", openedAt: null });

describe("RemoteSockets", () => {
  test("a socket that closed while a reload read the table stays closed", () => {
    const r = new RemoteSockets("ins_me");
    r.apply(open("s1"));
    const since = r.version; // the reload's query starts
    r.apply(closed("s1")); // …the close commits and is heard meanwhile
    r.replace([open("s1")], since); // the rows it read still had it
    expect(r.has("agt_a")).toBe(false);
  });

  test("a socket that opened while a reload read the table is kept; what the reload read replaces the rest", () => {
    const r = new RemoteSockets("ins_me");
    r.apply(open("gone"));
    const since = r.version;
    r.apply(open("s2", 2));
    r.replace([], since); // "gone" is not in the table any more; s2 committed after the read
    expect(r.has("agt_a")).toBe(true);
    expect(r.newestAt("agt_a")).toBe(2);
    r.replace([], r.version); // a later reload that finds nothing
    expect(r.has("agt_a")).toBe(false);
  });

  test("its own instance's sockets are never kept", () => {
    const r = new RemoteSockets("ins_other");
    r.apply(open("s1"));
    r.replace([open("s2")], r.version);
    expect(r.has("agt_a")).toBe(false);
  });
});
