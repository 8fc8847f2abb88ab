// Data at rest is readable by nod's user only: directories 0700, files 0600,
// whatever the umask. Commands that write data also set umask 077 (main.ts),
// so files SQLite creates on its own (-wal, -shm, VACUUM INTO) start private.
import { chmodSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Creates dir (and missing parents) 0700; an existing one made by an older nod is closed up, with its files. */
export function privateDir(dir: string) {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  if ((statSync(dir).mode & 0o777) === DIR_MODE) return;
  chmodSync(dir, DIR_MODE);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isFile()) privateFile(path.join(dir, e.name));
}

/** chmod 0600 when the file exists. */
export function privateFile(file: string) {
  try {
    chmodSync(file, FILE_MODE);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
