import { describe, expect, it } from "vitest";
import { findEmptyValues } from "./helpers.js";

describe("findEmptyValues", () => {
  it("finds null and empty strings at any depth", () => {
    const value = { a: null, b: [1, "", { c: "" }], d: { e: { f: null } }, g: "text" };

    expect(findEmptyValues(value)).toEqual(["$.a", "$.b[1]", "$.b[2].c", "$.d.e.f"]);
  });

  it("accepts zero, false and empty containers", () => {
    expect(findEmptyValues({ a: 0, b: false, c: [], d: {} })).toEqual([]);
  });
});
