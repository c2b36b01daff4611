// Learning-rate schedule of the reference (HF `get_linear_schedule_with_warmup`): linear warm-up over
// ceil(ratio * total) optimizer steps, then linear decay to 0. Like HF, the scheduler advances after each
// optimizer step, so update s (0-based) uses lambda(s): the very first update runs at lr 0 when warm-up > 0.

export interface LinearSchedule {
  totalSteps: number;
  warmupSteps: number;
  lr: (step: number) => number;
}

export function linearWarmupDecay(baseLr: number, totalSteps: number, warmupRatio: number): LinearSchedule {
  const warmupSteps = Math.ceil(totalSteps * warmupRatio);
  const lr = (step: number) => {
    if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
    return baseLr * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  };
  return { totalSteps, warmupSteps, lr };
}
