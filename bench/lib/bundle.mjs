// Bundles: `wrangler deploy --dry-run --outdir` bundles a Worker as a deploy would, without an
// account and without uploading anything. The bundled .js is gzipped here with node:zlib for its
// size, and the same bundle is what wrangler dev then serves, so edits to src/ during a run
// neither reload the Worker nor change what is measured.

import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { runWrangler } from "./wrangler.mjs";

/**
 * Bundles the Worker of `configPath` (relative to the repository root) into a new temporary
 * directory. Returns the main module's path, the raw and gzip sizes of the .js output in bytes,
 * wrangler's own "Total Upload" line, and `remove()`, which deletes the directory.
 */
export async function bundleWorker(configPath, extraArgs = []) {
  const outdir = await mkdtemp(join(tmpdir(), "bench-bundle-"));
  const remove = () => rm(outdir, { recursive: true, force: true });
  try {
    const { stdout } = await runWrangler(["deploy", "--dry-run", "--outdir", outdir, "--config", configPath, ...extraArgs]);
    const files = (await readdir(outdir)).filter((file) => file.endsWith(".js"));
    let raw = 0;
    let gzip = 0;
    for (const file of files) {
      const bytes = await readFile(join(outdir, file));
      raw += bytes.length;
      gzip += gzipSync(bytes).length;
    }
    const wranglerLine = stdout.match(/Total Upload:[^\n]*/)?.[0] ?? "";
    return { main: join(outdir, "index.js"), files, raw, gzip, wranglerLine, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * Bundles this project's Worker and the anchor as configured, which wrangler dev serves, and with
 * `--minify` for the size alone. The caller removes the configured bundles after the run.
 */
export async function bundleBoth() {
  const bundles = {};
  for (const [name, configPath] of [["project", "wrangler.toml"], ["anchor", "bench/anchor/wrangler.toml"]]) {
    const minified = await bundleWorker(configPath, ["--minify"]);
    await minified.remove();
    bundles[name] = { configured: await bundleWorker(configPath), minified };
  }
  return bundles;
}
