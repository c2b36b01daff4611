export * from "./assets.js";
