import { createServer } from "node:http";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  interface ProvidedContext {
    /** URL of a loopback server that returns Node's `performance.now()`, for checking workerd's clock. */
    clockUrl: string;
  }
}

/**
 * Starts a loopback HTTP server that returns Node's `performance.now()` in milliseconds for every
 * request, so that a benchmark inside workerd can time itself by a clock outside workerd.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer((_request, response) => {
    response.setHeader("Content-Type", "text/plain");
    response.end(String(performance.now()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("The clock server has no TCP address.");
  project.provide("clockUrl", `http://127.0.0.1:${address.port}/`);
  return () => new Promise((resolve) => server.close(() => resolve()));
}
