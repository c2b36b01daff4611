export * from "./assets.js";
export * from "./prompt/index.js";
