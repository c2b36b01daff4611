// Worker-thread entry of `textMetrics` (BLEU, ROUGE, METEOR): the main thread stays free to answer Ctrl-C and
// SIGTERM while this runs for minutes on a large predictions file.
import { parentPort, workerData } from "node:worker_threads";
import { textMetrics } from "./evaluate.js";

const { preds, refs, o } = workerData as {
  preds: string[];
  refs: string[];
  o: { seed?: number; punktDir?: string };
};
parentPort!.postMessage(textMetrics(preds, refs, o));
