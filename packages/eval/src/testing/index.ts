// @dep/eval/testing: fixtures and the browser check shared by the report tests and the report benchmark.
export {
  type BrowserReport,
  CHROMIUM,
  CHROMIUM_ARGS,
  checkReportInBrowser,
  chromiumAvailable,
} from "./browserCheck.js";
export { sharedPunktDir } from "./paths.js";
export { type FixtureOptions, writeFixtureRuns } from "./reportFixture.js";
