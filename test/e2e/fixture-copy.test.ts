import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The registration bodies shaped like real MCP clients are maintained outside this repository, in
// shared/fixtures beside the checkout. The tests use a copy so that a fresh clone runs on its own.
const shared = new URL("../../../shared/fixtures/registrations.json", import.meta.url);
const copy = new URL("../fixtures/registrations.json", import.meta.url);

describe("registration fixtures", () => {
  it.skipIf(!existsSync(shared))("copy equals the shared file", () => {
    expect(JSON.parse(readFileSync(copy, "utf8"))).toEqual(JSON.parse(readFileSync(shared, "utf8")));
  });
});
