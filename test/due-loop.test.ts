// DueLoop with an async nextDue() (a store that answers later, docs/scale.md
// "The async store seam"): the timer is armed from the answer, the latest arm
// decides, a failed read is logged and looked at again, and a stopped loop
// arms nothing.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { DueLoop } from "../server/lib/due-loop.ts";
import { Logger } from "../server/lib/log.ts";
import { eventually } from "./helpers.ts";

setDefaultTimeout(20_000); // a hang guard

class TestLoop extends DueLoop {
  passes = 0;
  asks = 0;
  answer: () => Promise<number | null> = async () => null;
  constructor(clock: () => number, maxSleepMs: number, log = new Logger("error")) {
    super(clock, maxSleepMs, log, "the test loop");
  }
  protected async pass() {
    this.passes++;
  }
  protected nextDue() {
    this.asks++;
    return this.answer();
  }
}

const deferred = () => {
  let resolve!: (v: number | null) => void;
  const promise = new Promise<number | null>((r) => (resolve = r));
  return { promise, resolve };
};
/** A few turns of the event loop: a timer of 0 ms would have fired. */
const turns = async () => {
  for (let i = 0; i < 5; i++) await Bun.sleep(1);
};

describe("a due loop whose nextDue is async", () => {
  test("nothing waiting: it sleeps, it does not pass again and again", async () => {
    const loop = new TestLoop(() => 1_000_000, 3_600_000);
    loop.start();
    await eventually(() => loop.asks === 1, 5000, "the arm after the first pass");
    await turns();
    expect(loop.passes).toBe(1);
    await loop.stop();
  });

  test("a due time in the answer sets the timer: the pass runs by itself", async () => {
    const now = 1_000_000;
    const loop = new TestLoop(() => now, 3_600_000);
    loop.start();
    await eventually(() => loop.asks === 1, 5000, "the first arm");
    loop.answer = async () => now; // due now
    loop.poke();
    await eventually(() => loop.passes >= 2, 5000, "the pass for the due time");
    await loop.stop();
  });

  test("two arms answered out of order: the later arm's answer decides", async () => {
    const now = 1_000_000;
    const loop = new TestLoop(() => now, 3_600_000);
    const first = deferred();
    const second = deferred();
    const answers = [first.promise, second.promise];
    loop.answer = () => answers.shift() ?? Promise.resolve(null);
    loop.start(); // the first pass, then the first arm
    await eventually(() => loop.asks === 1, 5000, "the first arm");
    loop.poke(); // the second arm, asked later: it sees what was committed since
    expect(loop.asks).toBe(2);
    second.resolve(null); // nothing waiting any more
    first.resolve(now); // an older answer: it must not arm the timer
    await turns();
    expect(loop.passes).toBe(1);
    await loop.stop();
  });

  test("a failed read is logged and looked at again later", async () => {
    const lines: string[] = [];
    const loop = new TestLoop(() => 1_000_000, 20, new Logger("error", (l) => lines.push(l)));
    loop.answer = () => Promise.reject(new Error("store gone"));
    loop.start();
    await eventually(() => loop.asks >= 2, 5000, "a second look after the failed one");
    expect(lines.some((l) => l.includes("reading the next due time failed") && l.includes("store gone"))).toBe(true);
    await loop.stop();
  });

  test("an answer that comes after stop() arms nothing", async () => {
    const now = 1_000_000;
    const loop = new TestLoop(() => now, 3_600_000);
    const pending = deferred();
    loop.start();
    await eventually(() => loop.asks === 1, 5000, "the first arm");
    loop.answer = () => pending.promise;
    loop.poke();
    await loop.stop();
    pending.resolve(now); // due now, but the loop is stopped
    await turns();
    expect(loop.passes).toBe(1);
  });
});
