import { describe, expect, it } from "vitest";
import { backendInfo } from "./index.js";

describe("backendInfo", () => {
  it("describes the build and the machine", () => {
    const info = backendInfo();
    expect(info.llamaCppVersion).toBe("v0.4.0");
    expect(info.ggmlVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(Array.isArray(info.cpuFeatures)).toBe(true);
    if (process.arch === "x64") expect(info.cpuFeatures).toContain("SSE3");
    expect(typeof info.cuda.compiled).toBe("boolean");
    if (!info.cuda.compiled) expect(info.cuda.devices).toEqual([]);
    for (const d of info.cuda.devices) {
      expect(d.name.length).toBeGreaterThan(0);
      expect(d.totalMemory).toBeGreaterThan(0);
    }
    // no GPU visible means the reason is reported when CUDA was compiled in
    if (info.cuda.compiled && info.cuda.devices.length === 0) expect(info.cuda.error).toBeTruthy();
  });
});
