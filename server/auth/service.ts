// People: accounts, passwords (Bun.password, argon2id) and browser sessions.
import { eq, count, sql } from "drizzle-orm";
import { randomHex, timeId } from "../lib/ids.ts";
import { sha256hex } from "../lib/secrets.ts";
import { iso, isoMs } from "../lib/time.ts";
import { badRequest, conflict } from "../lib/errors.ts";
import { users, sessions } from "../db/tables.ts";
import type { Ctx } from "../context.ts";
import { isReadDb, type Db } from "../db/index.ts";
import { StoreCache } from "../db/store-cache.ts";
import { first, only } from "../db/rows.ts";
import { prepared } from "../db/prepared.ts";
import type { Static } from "elysia";
import type { UserView } from "./model.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { lockUntilCommit } from "../db/locks.ts";

export const SESSION_COOKIE = "nod_session";
export const SESSION_TTL_MS = 30 * 86_400_000;

export type User = typeof users.$inferSelect;
export const publicUser = (u: User): Static<typeof UserView> => ({ id: u.id, username: u.username, created_at: iso(Date.parse(u.createdAt)) });

export const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateCredentials(username: string, password: string) {
  if (!USERNAME_RE.test(username))
    throw badRequest("username: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
  if (password.length < 8) throw badRequest("password: at least 8 characters");
  if (password.length > 1024) throw badRequest("password: at most 1024 characters");
}

export const userCount = async (db: Db) => only(await db.select({ n: count() }).from(users)).n;

export async function createUser(db: Db, username: string, password: string): Promise<User> {
  validateCredentials(username, password);
  const passwordHash = await Bun.password.hash(password);
  const user: User = { id: timeId("usr_"), username, passwordHash, createdAt: isoMs() };
  try {
    await db.insert(users).values(user);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`username '${username}' is taken`);
    throw e;
  }
  return user;
}

export const setupDone = () => conflict("setup is already done");

/** Whether the server still waits for its owner (a cheap count: ask before hashing anything). */
export const setupOpen = async (db: Db) => (await userCount(db)) === 0;

/** Creates the owner while the server has no person yet; 409 afterwards, without hashing. */
export async function setupOwner(ctx: Pick<Ctx, "db" | "writer">, username: string, password: string): Promise<User> {
  if (!(await setupOpen(ctx.db))) throw setupDone();
  validateCredentials(username, password);
  const passwordHash = await Bun.password.hash(password);
  // Check and insert in one transaction so two racing setups cannot both win
  // (on PostgreSQL, under a lock: instances sharing the database take turns).
  return ctx.writer.now(async (uow) => {
    await lockUntilCommit(uow.db, "setup");
    if (!(await setupOpen(uow.db))) throw setupDone();
    const user: User = { id: timeId("usr_"), username, passwordHash, createdAt: isoMs() };
    await uow.db.insert(users).values(user);
    return user;
  });
}

// A real hash to verify against when the username is unknown, so both cases take as long.
let dummyHash: Promise<string> | null = null;

export async function checkPassword(db: Db, username: string, password: string): Promise<User | null> {
  const user = first(await db.select().from(users).where(eq(users.username, username)));
  if (!user) {
    dummyHash ??= Bun.password.hash("not a real password");
    await Bun.password.verify(password, await dummyHash);
    return null;
  }
  return (await Bun.password.verify(password, user.passwordHash)) ? user : null;
}

export async function createSession(db: Db, userId: string, now = Date.now()): Promise<string> {
  const token = randomHex(32);
  await db.insert(sessions).values({ tokenHash: sha256hex(token), userId, createdAt: isoMs(now), expiresAt: isoMs(now + SESSION_TTL_MS) });
  return token; // expired sessions are deleted by retention (ops/retention.ts)
}

export async function userForSession(db: Db, token: string | undefined, now = Date.now()): Promise<User | null> {
  if (!token || token.length !== 64) return null;
  const hash = sha256hex(token);
  // Kept only when read on ctx.db: a read inside a unit of work may yet roll back.
  const s = await signedIn.load(db, hash, async () => {
    const row = first(await sessionStmt(db).execute({ hash }));
    return row && { user: row.user, expiresAt: row.expiresAt };
  });
  if (!s) return null;
  if (s.expiresAt < isoMs(now)) return null;
  return s.user;
}

// ---- sessions kept in memory ----
//
// Every people request and inbox socket checks its session. A session found
// once is kept (by its token's SHA-256); signing out drops it in the same unit
// of work that deletes the row, so a signed-out cookie is refused at once.
// Sessions and people are only removed through this file; other nod instances
// on the same PostgreSQL database drop the entry when that commit's effects
// reach them (by the token's hash: a raw token never leaves this process).

/** Sessions kept at most; beyond, the longest unused is dropped (and read again when it comes back). */
export const SESSIONS_KEPT_MAX = 10_000;
const signedIn = new StoreCache<{ user: User; expiresAt: string }>(SESSIONS_KEPT_MAX, "sessions");

const sessionStmt = (db: Db) =>
  prepared(db, "auth.session", (db) =>
    db
      .select({ user: users, expiresAt: sessions.expiresAt })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.tokenHash, sql.placeholder("hash")))
      .prepare(),
  );

/** Signs a session out; its open inbox sockets close after the commit. */
export async function deleteSession(ctx: Ctx, token: string | undefined) {
  if (!token) return;
  const hash = sha256hex(token);
  await ctx.writer.now(async (uow) => {
    signedIn.forget(uow, hash);
    await uow.db.delete(sessions).where(eq(sessions.tokenHash, hash));
    uow.closeSessionSockets(hash);
  });
}
