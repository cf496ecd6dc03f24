// `npm run build` runs this first, in plain JavaScript that any Node loads: the build itself is
// TypeScript, which only the pinned Node runs, and it copies that Node into the binary. Without it
// (`npm ci --ignore-scripts`: the npm package 'node' fetches its binary in an install script) the
// machine's own Node would fail on build.ts with "Unknown file extension .ts", or build with itself.
import { readFileSync } from "node:fs";

const pinned = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).devDependencies.node;
if (process.version !== `v${pinned}`) {
  console.error(`sfx build: this is Node ${process.version}, not the pinned ${pinned} that the binary is made of: run 'npm ci' (with install scripts: the npm package 'node' fetches its binary in one), then 'npm run build'`);
  process.exit(1);
}
