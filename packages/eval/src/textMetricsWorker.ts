// Worker-thread entry of `textMetrics` (BLEU, ROUGE, METEOR) or METEOR alone (dep select): the main thread
// stays free to answer Ctrl-C and SIGTERM while this runs for minutes on a large predictions file.
import { parentPort, workerData } from "node:worker_threads";
import { textMetrics } from "./evaluate.js";
import { meteor } from "./metrics/meteor/meteor.js";

const { preds, refs, o, only } = workerData as {
  preds: string[];
  refs: string[];
  o: { seed?: number; punktDir?: string };
  only?: "meteor";
};
parentPort!.postMessage(
  only === "meteor" ? meteor(preds, refs, { punktDir: o.punktDir }) : textMetrics(preds, refs, o),
);
