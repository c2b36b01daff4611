export * from "./report/index.js";
