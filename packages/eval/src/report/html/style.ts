// report.html's stylesheet (inlined: the page loads nothing).
export const REPORT_CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #fff; --soft: #f6f8fa; --accent: #0969da;
  --same: #dafbe1; --up: #1a7f37; --down: #cf222e; font-family: system-ui, "DejaVu Sans", sans-serif; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 14px; line-height: 1.45; }
header { position: sticky; top: 0; z-index: 2; background: var(--soft); border-bottom: 1px solid var(--line);
  padding: 8px 20px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
main { padding: 0 20px 40px; max-width: 1600px; }
section { margin-top: 28px; scroll-margin-top: 56px; }
body.user-mode main > section:not(#user-page) { display: none; }
h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin-top: 18px; }
h4 { font-size: 12px; margin: 8px 0 2px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.muted { color: var(--muted); }
code { font-size: 12px; background: var(--soft); padding: 1px 4px; border-radius: 4px; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; text-align: left; }
th { background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.results th.method { white-space: nowrap; }
.sigs { padding-left: 18px; }
.sigs code { display: inline-block; margin: 1px 0; }
figure.chart { margin: 12px 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center; background: var(--soft);
  border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.controls input[type=number] { width: 5em; }
.pager { margin: 10px 0; display: flex; gap: 10px; align-items: center; }
table.browser { width: 100%; table-layout: fixed; }
table.browser th[data-sort] { cursor: pointer; color: var(--accent); }
table.browser td { font-size: 13px; }
table.browser td.who { width: 12em; }
table.browser .text { max-height: 14em; overflow: auto; white-space: pre-wrap; }
mark { background: var(--same); color: inherit; border-radius: 2px; }
.scores { margin-top: 4px; display: flex; flex-wrap: wrap; gap: 3px; }
.chip { font-size: 11px; background: var(--soft); border: 1px solid var(--line); border-radius: 10px; padding: 0 6px; }
.chip.on { border-color: var(--accent); color: var(--accent); }
.delta { font-weight: 600; margin-top: 4px; font-size: 12px; }
.delta.up { color: var(--up); } .delta.down { color: var(--down); }
.item { font-style: italic; }
.excerpt { font-size: 12px; margin: 3px 0; }
.users a { margin-right: 8px; }
#user-page { border: 2px solid var(--accent); border-radius: 8px; padding: 4px 16px 16px; }
.sample { border-top: 1px solid var(--line); padding: 6px 0; }
`;
