import type { TestProject } from "vitest/node";
import { startWorker } from "./helpers/server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL that the shared `wrangler dev` serves the Worker on, equal to its issuer, without a trailing slash. */
    baseUrl: string;
  }
}

/** Starts one `wrangler dev` for the whole e2e run and stops it when the run ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const worker = await startWorker();
  project.provide("baseUrl", worker.url);
  return () => worker.stop();
}
