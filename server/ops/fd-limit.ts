// The process's open-file limit (RLIMIT_NOFILE): every socket is a file
// descriptor, so this is how many agents one nod can hold. Bun has no
// setrlimit, so libc's getrlimit/setrlimit are called through bun:ffi. Every
// call is guarded: where libc cannot be loaded (an unusual libc, FFI not
// available), nod carries on with the limit it was given and says so.
//
// Found by experiment (Bun 1.4.5, Linux; docs/performance.md "At the file
// descriptor limit"): Bun itself raises the soft limit to the hard one when it
// starts, so `nod serve` usually finds nothing to raise; it still tries (a
// later Bun may stop doing it) and logs both figures.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readdir } from "node:fs/promises";

const RLIMIT_NOFILE = process.platform === "darwin" ? 8 : 7;
const LIBC = process.platform === "darwin" ? ["libSystem.B.dylib"] : ["libc.so.6", "libc.so"];

function openLibc() {
  const symbols = {
    getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    accept4: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
    recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  } as const;
  for (const name of LIBC) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {}
  }
  // macOS has no accept4: only the limit functions are needed there.
  for (const name of LIBC) {
    try {
      const { getrlimit, setrlimit } = symbols;
      return dlopen(name, { getrlimit, setrlimit }).symbols;
    } catch {}
  }
  return null;
}

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | undefined;
/** libc through FFI, or null where it cannot be loaded (loaded once). */
export function getLibc(): Libc {
  if (libc === undefined) {
    try {
      libc = openLibc();
    } catch {
      libc = null;
    }
  }
  return libc;
}

export interface FdLimit {
  soft: number;
  hard: number;
}

// struct rlimit is two rlim_t (64-bit on Linux x64/arm64 and macOS).
// RLIM_INFINITY (all ones) is reported as Infinity.
const toNumber = (v: bigint) => (v >= 0x7fffffffffffffffn ? Infinity : Number(v));

/** The current soft and hard limits, or null when they cannot be read. */
export function readFdLimit(): FdLimit | null {
  const c = getLibc();
  if (!c) return null;
  try {
    const buf = new BigUint64Array(2);
    if (c.getrlimit(RLIMIT_NOFILE, ptr(buf)) !== 0) return null;
    return { soft: toNumber(buf[0]!), hard: toNumber(buf[1]!) };
  } catch {
    return null;
  }
}

/**
 * Raises the soft limit to the hard one. Returns the limits before and after
 * (after: what is in force now), or an error text; never throws.
 */
export function raiseFdLimit(): { before: FdLimit; after: FdLimit } | { error: string } {
  const c = getLibc();
  const before = readFdLimit();
  if (!c || !before) return { error: "cannot read the open-file limit (libc not reachable through bun:ffi)" };
  if (before.soft >= before.hard) return { before, after: before };
  try {
    const buf = new BigUint64Array(2);
    c.getrlimit(RLIMIT_NOFILE, ptr(buf));
    buf[0] = buf[1]!;
    // macOS refuses an unlimited soft limit for files: it then stays as it was.
    if (c.setrlimit(RLIMIT_NOFILE, ptr(buf)) !== 0) return { error: `setrlimit refused to raise the open-file limit from ${before.soft} to ${before.hard}` };
  } catch (e) {
    return { error: `setrlimit failed: ${(e as Error).message}` };
  }
  return { before, after: readFdLimit() ?? before };
}

const FD_DIRS = ["/proc/self/fd", "/dev/fd"];

/**
 * How many file descriptors the process has open, or null where that cannot be
 * listed. Asynchronous: at 20,000 descriptors the listing takes ~10 ms, done
 * off the event loop.
 */
export async function countOpenFds(): Promise<number | null> {
  for (const dir of FD_DIRS) {
    try {
      // The listing's own descriptor is in it.
      return (await readdir(dir)).length - 1;
    } catch {}
  }
  return null;
}
