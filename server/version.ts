// The version (from package.json) and the commit the binary was built from.
// scripts/build.ts compiles NOD_BUILD_COMMIT in; a checkout reports "dev".
import pkg from "../package.json" with { type: "json" };

declare const NOD_BUILD_COMMIT: string;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof NOD_BUILD_COMMIT === "string" ? NOD_BUILD_COMMIT : "dev";
