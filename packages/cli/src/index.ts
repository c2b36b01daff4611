export { EXIT, exitCodeFor } from "./exitCodes.js";
export { buildProgram } from "./program.js";
