/// <reference lib="dom" />
// The report page's script: the predictions browser (sort, filter, word diff against the reference, paging)
// and the user pages. It is inlined into report.html as `(${reportApp})()`, so it must not use anything
// from outside its own body except the page's globals: the JSON in #report-data and jsdiff's `Diff`
// (type imports are fine: they vanish in compilation).
import type { BrowserData } from "./reportData.js";

interface DiffPart {
  value: string;
  added?: boolean;
  removed?: boolean;
}

export function reportApp(): void {
  const dataEl = document.getElementById("report-data");
  if (!dataEl) return;
  const data = JSON.parse(dataEl.textContent ?? "null") as BrowserData | null;
  if (!data) return;
  const differ = (globalThis as unknown as { Diff?: { diffWords(a: string, b: string): DiffPart[] } }).Diff;
  const S = data.samples;
  const N = S.id.length;
  const PAGE = 25;
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const el = (tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const state = {
    category: "",
    search: "",
    compare: "",
    direction: "better",
    metric: data.metrics[0]?.key ?? "",
    margin: 0,
    sort: "id",
    descending: false,
    page: 0,
    diff: true,
  };

  // --- controls ---
  const categories = [...new Set(S.category)].sort();
  const catSel = $<HTMLSelectElement>("filter-category");
  for (const c of categories) catSel.append(el("option", { value: c }, c));
  const cmpSel = $<HTMLSelectElement>("compare-method");
  for (const m of data.methods) if (m !== data.base) cmpSel.append(el("option", { value: m }, m));
  $("compare-base").textContent = data.base;
  const metricSel = $<HTMLSelectElement>("compare-metric");
  const sortSel = $<HTMLSelectElement>("sort-key");
  for (const m of data.metrics) metricSel.append(el("option", { value: m.key }, m.label));
  const sortKeys: Array<[string, string]> = [
    ["id", "sample id"],
    ["user", "user"],
    ["category", "category"],
    ["item", "item title"],
    ...data.methods.map((m): [string, string] => [`score:${m}`, `${m}: score on the metric`]),
    ["delta", `${data.base} minus the compared method`],
  ];
  for (const [k, label] of sortKeys) sortSel.append(el("option", { value: k }, label));
  if (data.metrics.length === 0) {
    // no per-sample scores (no per-sample.json in the runs): nothing to compare or sort by score
    for (const id of ["compare-method", "compare-dir", "compare-metric", "compare-d"])
      $<HTMLInputElement>(id).disabled = true;
  }

  const score = (method: string, metric: string, i: number): number | null =>
    data.scores[method]?.[metric]?.[i] ?? null;
  const compared = () => state.compare || data.methods.find((m) => m !== data.base) || "";
  const delta = (i: number): number | null => {
    const other = compared();
    const a = score(data.base, state.metric, i);
    const b = score(other, state.metric, i);
    return a === null || b === null ? null : a - b;
  };

  // --- filter + sort -> the visible order ---
  let order: number[] = [];
  const recompute = () => {
    const q = state.search.trim().toLowerCase();
    const rows: number[] = [];
    for (let i = 0; i < N; i++) {
      if (state.category && S.category[i] !== state.category) continue;
      if (q && !`${S.user[i]} ${S.item[i]} ${S.id[i]}`.toLowerCase().includes(q)) continue;
      if (state.compare) {
        const d = delta(i);
        if (d === null) continue;
        if (state.direction === "better" ? !(d > state.margin) : !(d < -state.margin)) continue;
      }
      rows.push(i);
    }
    const key = state.sort;
    const sign = state.descending ? -1 : 1;
    const value = (i: number): string | number | null => {
      if (key === "delta") return delta(i);
      if (key.startsWith("score:")) return score(key.slice(6), state.metric, i);
      const col = (S as unknown as Record<string, string[]>)[key];
      return col ? col[i]! : i;
    };
    const keyed = rows.map((i) => ({ i, v: value(i) }));
    keyed.sort((a, b) => {
      if (a.v === null || b.v === null) return a.v === b.v ? a.i - b.i : a.v === null ? 1 : -1;
      if (a.v < b.v) return -sign;
      if (a.v > b.v) return sign;
      return a.i - b.i;
    });
    order = keyed.map((k) => k.i);
    state.page = Math.min(state.page, Math.max(0, Math.ceil(order.length / PAGE) - 1));
    render();
  };

  // --- rendering one page ---
  const diffed = (reference: string, prediction: string): Node => {
    const box = el("div", { class: "text" });
    if (!state.diff || !differ) {
      box.textContent = prediction;
      return box;
    }
    for (const part of differ.diffWords(reference, prediction)) {
      if (part.removed) continue;
      if (part.added) {
        box.append(document.createTextNode(part.value));
        continue;
      }
      // whitespace around a shared stretch stays outside the highlight
      const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(part.value)!;
      box.append(document.createTextNode(m[1]!), el("mark", {}, m[2]!), document.createTextNode(m[3]!));
    }
    return box;
  };
  const scoreLine = (method: string, i: number): HTMLElement => {
    const line = el("div", { class: "scores" });
    for (const m of data.metrics) {
      const v = score(method, m.key, i);
      const chip = el("span", { class: m.key === state.metric ? "chip on" : "chip" });
      chip.textContent = `${m.label} ${v === null ? "–" : v.toFixed(m.digits)}`;
      line.append(chip);
    }
    return line;
  };
  const tbody = $("rows");
  const render = () => {
    tbody.replaceChildren();
    const start = state.page * PAGE;
    for (const i of order.slice(start, start + PAGE)) {
      const tr = el("tr", { "data-id": S.id[i]! });
      const who = el("td", { class: "who" });
      const link = el(
        "a",
        { href: `#user/${encodeURIComponent(S.user[i]!)}`, class: "user-link" },
        S.user[i]!,
      );
      who.append(
        link,
        el("div", { class: "muted" }, S.category[i]!),
        el("div", { class: "item" }, S.item[i]!),
      );
      const d = delta(i);
      if (d !== null) {
        const label = data.metrics.find((m) => m.key === state.metric)?.label ?? state.metric;
        const text = `${data.base} − ${compared()} ${label}: ${d >= 0 ? "+" : ""}${d.toFixed(3)}`;
        who.append(el("div", { class: d >= 0 ? "delta up" : "delta down" }, text));
      }
      tr.append(who, el("td", {}, S.reference[i]!));
      for (const m of data.methods) {
        const td = el("td");
        const p = data.pred[m]![i];
        if (p === null || p === undefined) td.append(el("div", { class: "muted" }, "(no prediction)"));
        else td.append(diffed(S.reference[i]!, p), scoreLine(m, i));
        tr.append(td);
      }
      tbody.append(tr);
    }
    const pages = Math.max(1, Math.ceil(order.length / PAGE));
    $("page-info").textContent = `${order.length} of ${N} samples · page ${state.page + 1} of ${pages}`;
    $<HTMLButtonElement>("prev-page").disabled = state.page === 0;
    $<HTMLButtonElement>("next-page").disabled = state.page >= pages - 1;
  };

  const bind = (id: string, event: string, apply: (e: HTMLInputElement) => void) =>
    $<HTMLInputElement>(id).addEventListener(event, (ev) => {
      apply(ev.target as HTMLInputElement);
      state.page = 0;
      recompute();
    });
  bind("filter-category", "change", (e) => {
    state.category = e.value;
  });
  bind("filter-search", "input", (e) => {
    state.search = e.value;
  });
  bind("compare-method", "change", (e) => {
    state.compare = e.value;
  });
  bind("compare-dir", "change", (e) => {
    state.direction = e.value;
  });
  bind("compare-metric", "change", (e) => {
    state.metric = e.value;
  });
  bind("compare-d", "input", (e) => {
    const v = Number.parseFloat(e.value);
    state.margin = Number.isFinite(v) ? v : 0;
  });
  bind("sort-key", "change", (e) => {
    state.sort = e.value;
  });
  bind("sort-dir", "change", (e) => {
    state.descending = e.value === "desc";
  });
  bind("show-diff", "change", (e) => {
    state.diff = e.checked;
  });
  const turn = (by: number) => () => {
    state.page += by;
    render();
    $("browser").scrollIntoView();
  };
  $("prev-page").addEventListener("click", turn(-1));
  $("next-page").addEventListener("click", turn(1));
  for (const th of Array.from(document.querySelectorAll<HTMLElement>("#browser th[data-sort]"))) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort!;
      state.descending = state.sort === key ? !state.descending : key.startsWith("score:") || key === "delta";
      state.sort = key;
      sortSel.value = key;
      $<HTMLSelectElement>("sort-dir").value = state.descending ? "desc" : "asc";
      recompute();
    });
  }

  // --- user pages (#user/<id>) ---
  const userPage = $("user-page");
  const showUser = (user: string) => {
    const body = $("user-body");
    body.replaceChildren();
    $("user-title").textContent = `User ${user}`;
    const info = data.users[user];
    if (info) {
      body.append(el("h3", {}, "How this user differs from peers (SAE units on the difference rows)"));
      const table = el("table", { class: "units" });
      const head = el("tr");
      for (const h of [
        "unit",
        "z vs peers",
        "user / peers mean",
        "words of the unit's top reviews",
        "user's reviews that drive it",
      ])
        head.append(el("th", {}, h));
      table.append(head);
      for (const u of info.units) {
        const tr = el("tr");
        tr.append(
          el("td", {}, `#${u.unit}`),
          el("td", {}, u.z.toFixed(2)),
          el("td", {}, `${u.userMean.toFixed(3)} / ${u.peerMean.toFixed(3)}`),
          el("td", {}, u.label.join(", ")),
        );
        const reviews = el("td");
        for (const r of u.reviews)
          reviews.append(
            el("div", { class: "excerpt" }, `${r.title} (${r.activation.toFixed(3)}): ${r.excerpt}`),
          );
        tr.append(reviews);
        table.append(tr);
      }
      body.append(table);
    } else {
      body.append(
        el("p", { class: "muted" }, "No SAE explanation for this user (run dep explain and pass --explain)."),
      );
    }
    body.append(el("h3", {}, "This user's samples"));
    for (let i = 0; i < N; i++) {
      if (S.user[i] !== user) continue;
      const box = el("div", { class: "sample" });
      box.append(
        el("div", { class: "muted" }, `${S.id[i]} · ${S.item[i]}`),
        el("h4", {}, "Reference"),
        el("div", { class: "text" }, S.reference[i]!),
      );
      for (const m of data.methods) {
        const p = data.pred[m]![i];
        if (p === null || p === undefined) continue;
        box.append(el("h4", {}, m), diffed(S.reference[i]!, p), scoreLine(m, i));
      }
      body.append(box);
    }
    userPage.hidden = false;
    document.body.classList.add("user-mode");
    window.scrollTo(0, 0);
  };
  const route = () => {
    const m = /^#user\/(.+)$/.exec(location.hash);
    if (m) showUser(decodeURIComponent(m[1]!));
    else if (!userPage.hidden) {
      userPage.hidden = true;
      document.body.classList.remove("user-mode");
      document.getElementById(location.hash.slice(1))?.scrollIntoView();
    }
  };
  window.addEventListener("hashchange", route);
  recompute();
  route();
  document.body.dataset.ready = "1";
}
