// PostgreSQL migrations (server/db/schema-pg.ts and the tables only PostgreSQL
// has, schema-cluster.ts → drizzle-pg/); drizzle.config.ts is SQLite's.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: ["./server/db/schema-pg.ts", "./server/db/schema-cluster.ts"],
  out: "./drizzle-pg",
});
