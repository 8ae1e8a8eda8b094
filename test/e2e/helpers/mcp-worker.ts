import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { experimental_readRawConfig } from "wrangler";
import { startWorker, type WorkerServer } from "./server.js";

const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface ConfiguredWorkerOptions {
  /**
   * Values for `[vars]`, replacing those of wrangler.toml with the same name. They go into a
   * configuration file because `wrangler dev --var` passes every value as a string, and the
   * Worker expects JSON arrays and numbers for several variables.
   */
  vars?: Record<string, unknown>;
  /**
   * Whether to run demo/wrangler.toml beside the Worker and keep its `MCP_SERVER` service binding.
   * Without the demo the binding is removed, because wrangler dev keeps a binding to a Worker that
   * is not running (it lists it as "[not connected]") and the proxy would use it instead of
   * `MCP_UPSTREAM_URL`.
   */
  demo: boolean;
}

/**
 * Starts `wrangler dev` through the same `startWorker` as the shared server, with a copy of
 * wrangler.toml that `options` changes, written to a temporary directory.
 */
export async function startConfiguredWorker(options: ConfiguredWorkerOptions): Promise<WorkerServer> {
  const { rawConfig } = experimental_readRawConfig({ config: join(REPOSITORY_ROOT, "wrangler.toml") });
  const config: Record<string, unknown> = {
    ...rawConfig,
    // Relative paths resolve against the configuration file, which is no longer in the repository.
    main: join(REPOSITORY_ROOT, rawConfig.main!),
    vars: { ...rawConfig.vars, ...options.vars },
  };
  if (!options.demo) delete config.services;

  const configDir = await mkdtemp(join(tmpdir(), "mcp-oauth-config-"));
  const configPath = join(configDir, "wrangler.json");
  await writeFile(configPath, JSON.stringify(config, null, 2));

  try {
    const worker = await startWorker({ configPaths: options.demo ? [configPath, "demo/wrangler.toml"] : [configPath] });
    return {
      ...worker,
      stop: async () => {
        await worker.stop();
        await rm(configDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(configDir, { recursive: true, force: true });
    throw error;
  }
}
