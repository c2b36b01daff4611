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

  it("says which CPU paths llama.cpp takes: ISA compiled vs offered, target, AMX and repacking", () => {
    const { cpu, cpuFeatures } = backendInfo();
    expect(["native", "portable"]).toContain(cpu.target);
    // the default build leaves ggml's AMX path out (llama.cpp issue 20824); DEP_GGML_AMX=ON puts it in
    expect(cpu.amxCompiled).toBe(process.env.DEP_GGML_AMX === "ON");
    if (process.arch !== "x64") return;
    // nothing is compiled in that the CPU lacks: the addon would die with SIGILL
    for (const isa of ["AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16"]) {
      if (cpuFeatures.includes(isa)) expect(cpu.machineFeatures).toContain(isa);
    }
    // a native build uses what the CPU offers; a portable one stops at AVX2
    if (cpu.target === "native" && cpu.machineFeatures.includes("AVX512"))
      expect(cpuFeatures).toContain("AVX512");
    if (cpu.target === "portable") expect(cpuFeatures).not.toContain("AVX512");
    // ggml offers its CPU weight repacking on every x86-64 CPU with AVX2
    if (cpuFeatures.includes("AVX2")) expect(cpu.repackTypes).toContain("CPU_REPACK");
    expect(cpu.repackTypes.includes("AMX")).toBe(cpu.amxCompiled && cpu.machineFeatures.includes("AMX_INT8"));
  });
});
