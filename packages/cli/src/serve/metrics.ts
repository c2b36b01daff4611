// Prometheus metrics of `dep serve` (GET /metrics), on a registry of its own: requests by route and status,
// prompt positions and completion tokens, queue depth and running requests, request latency, soft-row
// cache hits and misses, and the process's own figures (RSS, CPU, event-loop lag).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface ServeGauges {
  queued(): number;
  running(): number;
  cache(): { hits: number; misses: number };
}

export function serveMetrics(gauges: ServeGauges) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "dep_" });
  const requests = new Counter({
    name: "dep_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const promptPositions = new Counter({
    name: "dep_prompt_positions_total",
    help: "prompt positions decoded (tokens + soft rows)",
    registers: [registry],
  });
  const completionTokens = new Counter({
    name: "dep_completion_tokens_total",
    help: "tokens generated",
    registers: [registry],
  });
  const cancelled = new Counter({
    name: "dep_requests_cancelled_total",
    help: "generations stopped because the client went away",
    registers: [registry],
  });
  const latency = new Histogram({
    name: "dep_request_duration_seconds",
    help: "time from request to the last byte of the response, by route",
    labelNames: ["route"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  new Gauge({
    name: "dep_queue_depth",
    help: "generation requests waiting for a batch",
    registers: [registry],
    collect() {
      this.set(gauges.queued());
    },
  });
  new Gauge({
    name: "dep_running_requests",
    help: "generation requests in the running batch",
    registers: [registry],
    collect() {
      this.set(gauges.running());
    },
  });
  new Gauge({
    name: "dep_soft_cache_hits",
    help: "soft-row cache hits since start",
    registers: [registry],
    collect() {
      this.set(gauges.cache().hits);
    },
  });
  new Gauge({
    name: "dep_soft_cache_misses",
    help: "soft-row cache misses since start (soft rows computed)",
    registers: [registry],
    collect() {
      this.set(gauges.cache().misses);
    },
  });
  return { registry, requests, promptPositions, completionTokens, cancelled, latency };
}

export type ServeMetrics = ReturnType<typeof serveMetrics>;
