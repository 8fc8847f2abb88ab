// nod agent create NAME — creates an agent from the shell and prints its id and secret once.
import { makeConfig } from "../config.ts";
import { createContext } from "../app.ts";
import { createAgent } from "../agents/service.ts";
import { HttpError } from "../lib/errors.ts";
import { Logger } from "../lib/log.ts";
import { parseArgs, UsageError } from "./args.ts";
import { databaseUrlFrom, dataDirFrom, storeFailure } from "./serve.ts";

export const AGENT_HELP = `Usage: nod agent create NAME [--type interactive|approval_only] [--webhook-url URL]
                         [--data DIR | --database URL]

Create an agent and print its id and secret. The secret is shown this once;
people can rotate it later in the inbox.
  nod agent create "Deploy Bot" --type approval_only

Flags:
  --type T           interactive (chat and requests, default) or approval_only (requests only)
  --webhook-url URL  where nod POSTs the agent's events when it has no WebSocket open
  --avatar A         an emoji or image URL shown in the inbox
  --json             print the whole agent (with secret and webhook_secret) as JSON
  --data DIR         data directory (NOD_DATA_DIR, default ./nod-data)
  --database URL     the postgres:// URL nod serve was given: create the agent in
                     that PostgreSQL database instead of SQLite in --data
                     (NOD_DATABASE_URL)
  -h, --help         show this help
`;

export async function agent(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, {
    type: { type: "string" },
    "webhook-url": { type: "string" },
    avatar: { type: "string" },
    json: { type: "boolean" },
    data: { type: "string" },
    database: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (flags.help) return void process.stdout.write(AGENT_HELP), 0;
  const [sub, name, ...rest] = positional;
  if (sub !== "create") throw new UsageError(sub ? `unknown agent command: ${sub}` : "missing agent command (create)");
  if (!name?.trim()) throw new UsageError("missing NAME");
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]} (quote the name if it has spaces)`);
  const type = flags.type ?? "interactive";
  if (type !== "interactive" && type !== "approval_only") throw new UsageError("--type: interactive or approval_only");

  // The server's own context (database, logger, write path), without listening or starting loops.
  const config = makeConfig({ dataDir: dataDirFrom(flags), databaseUrl: databaseUrlFrom(flags) });
  const { ctx, store } = await createContext(config, { log: new Logger("warn") }).catch(storeFailure);
  try {
    const { agent, secret } = await createAgent(ctx, { name, type, webhook_url: flags["webhook-url"] ?? null, avatar: flags.avatar ?? null }, null);
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({ id: agent.id, name: agent.name, type: agent.type, webhook_url: agent.webhookUrl, secret, webhook_secret: agent.webhookSecret }) + "\n",
      );
    } else {
      process.stdout.write(
        `created agent ${agent.name}\n` +
          `NOD_AGENT_ID=${agent.id}\n` +
          `NOD_SECRET=${secret}\n` +
          (agent.webhookUrl ? `webhook secret: ${agent.webhookSecret}\n` : "") +
          `The secret is shown only now: keep it somewhere safe.\n`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof HttpError) {
      process.stderr.write(`nod agent create: ${e.detail}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}
