// PostgreSQL migrations (server/db/schema-pg.ts → drizzle-pg/); drizzle.config.ts is SQLite's.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./server/db/schema-pg.ts",
  out: "./drizzle-pg",
});
