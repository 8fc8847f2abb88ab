// Where embedded folders live: beside the sources in a checkout, under
// /$bunfs/root/<basename> inside the compiled binary (`--asset` keeps only the basename).
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");
export const assetDir = (rel: string) =>
  Bun.isStandaloneExecutable ? path.join(import.meta.dir, path.basename(rel)) : path.join(REPO, rel);
