// The page of `nanolab serve` and `nanolab report` (docs/compare.md): the runs table and one uPlot
// chart per metric and experiment, kept live by polling the server's JSON API once a second. A
// chart asks for its curves only while it is on screen (or near), downsampled by the server to
// about one point per pixel, and again only for the runs whose file changed (their `version`).
// Smoothing is TensorBoard's debiased exponential moving average, drawn over the faint raw curve.
// In the file that `nanolab report` writes, the API's answers are embedded (#nanolab-data): api()
// answers from them, the page is drawn once and never polls; the rest is the same code.
// window.nanolab exposes the state to the browser tests (tests/integration/page_browser_test.py).
"use strict";

const POLL_MS = 1000;
const POINT_BUDGET = 200000;  // points per chart request, over all its runs
const COARSE_ABOVE = 50, COARSE_POINTS = 32;  // see Chart.update
const RAW_UP_TO = 200;  // runs in a chart up to which the raw curves are drawn behind
const PALETTE = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
                 [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]];

const state = {
  runs: new Map(),    // id -> run object of GET /api/runs
  hidden: new Set(),  // run ids hidden by a legend entry or the table's checkbox
  filter: "",
  sort: { key: null, desc: false },
  x: "step",
  logY: false,
  smooth: 0.6,
  groupBy: "",          // a config key: one line per value of it (mean and band)
  selected: new Set(),  // run ids whose configurations are compared
  charts: new Map(),  // experiment + "\n" + metric -> Chart
  polls: 0,
  drawn: false,  // the charts on screen at the first poll are drawn: the rest may be made
};

// ---- helpers ---------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function fmt(v) {
  if (v == null || Number.isNaN(v)) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  return Number(v.toPrecision(5)).toString();
}

function colour(i) {
  if (i < PALETTE.length) return PALETTE[i];
  // Further colours around the wheel by the golden angle, as RGB (the tests look for them).
  const h = (i * 137.508) % 360, s = 0.65, l = 0.45;
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
const rgb = (c, a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

// The answers of a page written by `nanolab report` (report_page.cpp): {about, runs, curves: {id:
// {metric: {x, y}}} on the step axis, clocks: {id: {x: step, y: wall s}}, samples: {id}}; null on
// a served page.
const EMBEDDED = (() => {
  const data = document.getElementById("nanolab-data");
  return data ? JSON.parse(data.textContent) : null;
})();

if (EMBEDDED)
  document.getElementById("origin").textContent =
    `Written by nanolab report on ${EMBEDDED.about.written}: one file, no server, no network.`;

// GET path?params from the server, or its answer from the embedded data.
async function api(path, params) {
  if (EMBEDDED) return embeddedAnswer(path, params);
  const url = params ? `${path}?${params}` : path;
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

// x of an embedded curve (steps) on the chosen axis: tokens, or wall time read off the run's clock
// by linear interpolation.
function onAxis(run, steps, axis) {
  if (axis === "tokens") return steps.map((s) => s * (run.tokens_per_step || 1));
  if (axis !== "wall") return steps;
  const clock = EMBEDDED.clocks[run.id];
  if (!clock || clock.x.length === 0) return steps.map(() => null);
  let k = 0;
  return steps.map((s) => {
    while (k + 1 < clock.x.length && clock.x[k + 1] <= s) k++;
    if (k + 1 >= clock.x.length || s <= clock.x[k]) return clock.y[k];
    const f = (s - clock.x[k]) / (clock.x[k + 1] - clock.x[k]);
    return clock.y[k] + f * (clock.y[k + 1] - clock.y[k]);
  });
}

function embeddedAnswer(path, params) {
  if (path === "/api/runs") return EMBEDDED.runs;
  const samples = /^\/api\/runs\/(\d+)\/samples$/.exec(path);
  if (samples) return EMBEDDED.samples[samples[1]] || [];
  if (path === "/api/metrics") {
    const metric = params.get("metric"), axis = params.get("x");
    return params.get("ids").split(",").map((id) => {
      const run = EMBEDDED.runs[Number(id)];
      const curve = EMBEDDED.curves[id][metric] || { x: [], y: [] };
      return { id: run.id, version: run.version, x: axis,
               metrics: { [metric]: { x: onAxis(run, curve.x, axis), y: curve.y } } };
    });
  }
  throw new Error(`${path}: not in this report`);
}

// TensorBoard's smoothing: an exponential moving average divided by (1 - weight^n), so that the
// first points are not pulled towards zero. Gaps (null) stay gaps.
function smooth(ys, weight) {
  if (weight <= 0) return ys.slice();
  const out = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y == null || !Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

// ---- runs: labels, filter, columns -----------------------------------------------------------

// Config keys whose value is not the same in every run.
function differingKeys(runs) {
  const values = new Map();
  for (const r of runs)
    for (const [k, v] of Object.entries(r.config)) {
      if (!values.has(k)) values.set(k, new Set());
      values.get(k).add(v);
    }
  const keys = [];
  for (const [k, set] of values)
    if (set.size > 1 || runs.some((r) => !(k in r.config))) keys.push(k);
  return keys.sort();
}

// Short labels, unique within an experiment: the run's name when it is short, else the values of
// the keys that differ ("lr=0.001 plugin=causal_mha"); the full label is the title.
function labelRuns(runs) {
  const byExperiment = new Map();
  for (const r of runs) {
    if (!byExperiment.has(r.experiment)) byExperiment.set(r.experiment, []);
    byExperiment.get(r.experiment).push(r);
  }
  for (const group of byExperiment.values()) {
    const keys = differingKeys(group).filter((k) => k !== "experiment.name");
    const seen = new Map();
    for (const r of group) {
      let label = r.name;
      if (label.length > 32 && keys.length > 0)
        label = keys.filter((k) => k in r.config)
          .map((k) => `${k.split(".").pop()}=${r.config[k]}`).join(" ");
      const n = seen.get(label) || 0;
      seen.set(label, n + 1);
      r.label = n ? `${label} #${r.id}` : label;
      const diff = keys.filter((k) => k in r.config).map((k) => `${k}=${r.config[k]}`);
      r.fullLabel = `${r.experiment}/${r.name}` + (diff.length ? `  (${diff.join(", ")})` : "") +
                    `\n${r.path}`;
    }
  }
}

// The filter: words that must all appear in the run's text (experiment, name, status, key=value),
// or comparisons `key<v`, `key>=v`, `key=v` on a config key, a summary value or last_step.
function filterTerms(text) {
  return text.trim().split(/\s+/).filter(Boolean).map((t) => {
    const m = /^([\w./-]+?)(<=|>=|<|>|=)(.+)$/.exec(t);
    return m ? { key: m[1], op: m[2], value: m[3] } : { word: t.toLowerCase() };
  });
}

function runValue(r, key) {
  if (key === "last_step") return r.last_step;
  if (key in r.summary) return r.summary[key];
  if (key in r.config) return r.config[key];
  return undefined;
}

function passes(r, terms) {
  r.text ??= (`${r.experiment} ${r.name} ${r.status} ` +
              Object.entries(r.config).map(([k, v]) => `${k}=${v}`).join(" ")).toLowerCase();
  return terms.every((t) => {
    if (t.word) return r.text.includes(t.word);
    const v = runValue(r, t.key);
    if (v === undefined || v === null) return false;
    const a = Number(v), b = Number(t.value);
    if (Number.isNaN(a) || Number.isNaN(b)) return t.op === "=" && String(v) === t.value;
    return t.op === "<" ? a < b : t.op === "<=" ? a <= b : t.op === ">" ? a > b
         : t.op === ">=" ? a >= b : a === b;
  });
}

// The runs that pass the filter, computed once per poll or filter change (every chart asks).
let shownCache = null;
function shownRuns() {
  if (!shownCache) {
    const terms = filterTerms(state.filter);
    shownCache = [...state.runs.values()].filter((r) => terms.length === 0 || passes(r, terms));
  }
  return shownCache;
}

// ---- the table -------------------------------------------------------------------------------

function columns(runs) {
  const summaryKeys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort();
  return [
    { name: "run", get: (r) => r.label, title: (r) => r.fullLabel },
    { name: "experiment", get: (r) => r.experiment },
    { name: "status", get: (r) => r.status + (r.error ? " (last read failed)" : ""),
      title: (r) => r.error || "", cls: "status" },
    { name: "last step", get: (r) => r.last_step ?? null, number: true },
    ...differingKeys(runs).map((k) => ({ name: k, get: (r) => r.config[k] ?? null })),
    ...summaryKeys.map((k) => ({ name: k, get: (r) => r.summary[k] ?? null, number: true })),
  ];
}

let tableSignature = "";
function renderTable() {
  const all = [...state.runs.values()];
  const cols = columns(all);
  const rows = [...shownRuns()];
  const sortCol = cols.find((c) => c.name === state.sort.key);
  if (sortCol) {
    const dir = state.sort.desc ? -1 : 1;
    rows.sort((a, b) => {
      const x = sortCol.get(a), y = sortCol.get(b);
      if (x === null || y === null) return (x === null) - (y === null);  // empty cells last
      const nx = Number(x), ny = Number(y);
      const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
      return dir * c;
    });
  }
  const signature = JSON.stringify([rows.map((r) => [r.id, r.version, r.status, r.label]),
    cols.map((c) => c.name), state.sort, [...state.hidden], [...state.selected]]);
  if (signature === tableSignature) return;
  tableSignature = signature;

  const thead = document.querySelector("#runs thead");
  const tbody = document.querySelector("#runs tbody");
  const head = el("tr", {}, el("th", { title: "shown in the charts" }, "show"),
                  el("th", { title: "compared in the configuration diff" }, "diff"));
  for (const c of cols) {
    const th = el("th", { onclick: () => {
      state.sort = { key: c.name, desc: state.sort.key === c.name && !state.sort.desc };
      renderTable();
    } }, c.name);
    if (state.sort.key === c.name) th.className = "sorted" + (state.sort.desc ? " desc" : "");
    head.append(th);
  }
  thead.replaceChildren(head);
  tbody.replaceChildren(...rows.map((r) => {
    const box = el("input", { type: "checkbox", onchange: () => toggle(r.id) });
    box.checked = !state.hidden.has(r.id);
    const pick = el("input", { type: "checkbox", onchange: () => {
      if (state.selected.has(r.id)) state.selected.delete(r.id);
      else state.selected.add(r.id);
      renderDiff();
    } });
    pick.checked = state.selected.has(r.id);
    const tr = el("tr", { "data-run": r.id, class: `status-${r.status}` +
                          (state.hidden.has(r.id) ? " hidden-run" : "") },
                  el("td", {}, box), el("td", {}, pick));
    for (const c of cols) {
      const v = c.get(r);
      const td = el("td", { class: [c.cls, c.number ? "number" : ""].filter(Boolean).join(" ") },
                    c.number ? fmt(v) : (v ?? ""));
      const title = c.title ? c.title(r) : "";
      if (title) td.title = title;
      tr.append(td);
    }
    return tr;
  }));
}

// The configuration keys, status and summary values that differ between the selected runs, one
// column per run.
function renderDiff() {
  const runs = [...state.selected].map((id) => state.runs.get(id)).filter(Boolean);
  const box = document.getElementById("diff");
  if (runs.length < 2) {
    box.replaceChildren(el("p", { class: "hint" }, "Tick \"diff\" on two or more runs."));
    return;
  }
  const rows = differingKeys(runs).map((k) => [k, runs.map((r) => r.config[k] ?? "")]);
  if (new Set(runs.map((r) => r.status)).size > 1) rows.push(["status", runs.map((r) => r.status)]);
  const summaryKeys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort();
  for (const k of summaryKeys) rows.push([k, runs.map((r) => fmt(r.summary[k]))]);
  box.replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "key"),
                       ...runs.map((r) => el("th", { title: r.fullLabel }, r.label)))),
    el("tbody", {}, ...rows.map(([k, values]) =>
      el("tr", {}, el("td", {}, k), ...values.map((v) => el("td", {}, String(v))))))));
}

// The compare table. In a report: the one `nanolab report` wrote (its --metric, --sort, --where,
// --group-seeds and --baseline: the seed groups' mean ± std, n, ci95, p and g). On a served page:
// the seed groups of the shown runs for the metric chosen (GET /api/compare, the table of
// `nanolab compare --group-seeds`), asked again when a shown run changes.
const compare = { signature: "", pending: false };
async function renderCompare() {
  let table, what;
  if (EMBEDDED) {
    if (compare.signature) return;
    compare.signature = "embedded";
    table = EMBEDDED.about.compare;
    what = (EMBEDDED.about.group_seeds ? "One row per seed group: " : "One row per run: ") +
      `the best ${EMBEDDED.about.metric} and the summary, as \`nanolab compare\` prints them.`;
  } else {
    const metric = renderCompareChoices();
    const runs = shownRuns();
    const signature = JSON.stringify([metric, runs.map((r) => [r.id, r.version])]);
    if (signature === compare.signature || compare.pending) return;
    compare.pending = true;
    try {
      if (runs.length === 0) {
        table = { columns: [], rows: [] };
      } else {
        const query = new URLSearchParams({ metric });
        if (runs.length < state.runs.size) query.set("ids", runs.map((r) => r.id).join(","));
        table = await api("/api/compare", query);
      }
      compare.signature = signature;
    } catch (err) {
      showError(err);
      return;
    } finally {
      compare.pending = false;
    }
    const n = table.columns.indexOf("n");
    what = `One row per seed group (runs that differ only in experiment.seed) of the shown runs: ` +
      `the best ${metric}, mean ± std over the group, its n and 95 % confidence interval, as ` +
      `\`nanolab compare --group-seeds\` prints them.` +
      (table.rows.length && table.rows.every((row) => row[n] === "1")
        ? " Every group has one run: a std and an interval need several seeds." : "");
  }
  document.getElementById("compare-what").textContent = what;
  // A seed group's label repeats its key columns (seeds .. n): then it is the row's title only.
  const group = table.columns.indexOf("group");
  const keyed = group >= 0 && table.columns.indexOf("n") - table.columns.indexOf("seeds") > 1;
  const shown = table.columns.map((c, k) => k).filter((k) => !(keyed && k === group));
  const status = table.columns.indexOf("status");
  document.getElementById("compare").replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ...shown.map((k) => el("th", {}, table.columns[k])))),
    el("tbody", {}, ...table.rows.map((row) => el("tr", {
      ...(status >= 0 ? { class: `status-${row[status]}` } : {}),
      ...(keyed ? { title: row[group] } : {}) },
      ...shown.map((k) => el("td", k === status ? { class: "status" } : {}, row[k])))))));
}

// The metric choices of the served compare table: every metric of the shown runs; returns the
// chosen one (val/loss until another is chosen).
function renderCompareChoices() {
  const select = document.getElementById("compare-metric");
  select.parentElement.hidden = false;
  const metrics = [...new Set(shownRuns().flatMap((r) => r.metrics))].sort(metricOrder);
  const chosen = select.value || "val/loss";
  if (!metrics.includes(chosen)) metrics.unshift(chosen);
  const have = [...select.options].map((o) => o.value);
  if (JSON.stringify(metrics) !== JSON.stringify(have)) {
    select.replaceChildren(...metrics.map((m) => el("option", { value: m }, m)));
    select.value = chosen;
  }
  return chosen;
}

// The text each shown run generated, folded: one <details> per run, read when it is opened.
function renderSamples() {
  const box = document.getElementById("samples");
  const runs = shownRuns();
  const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.run));
  const signature = JSON.stringify(runs.map((r) => [r.id, r.label]));
  if (signature === box.dataset.signature) return;
  box.dataset.signature = signature;
  box.replaceChildren(...runs.map((r) => {
    const text = el("pre", {});
    const details = el("details", { "data-run": r.id }, el("summary", { title: r.fullLabel }, r.label),
                       text);
    const load = async () => {
      try {
        const samples = await api(`/api/runs/${r.id}/samples`);
        text.textContent = samples.length
          ? samples.map(([step, s]) => `step ${step}:\n${s}`).join("\n\n") : "(no sample)";
      } catch (err) {
        text.textContent = err.message;
      }
    };
    details.addEventListener("toggle", () => { if (details.open) load(); });
    if (open.has(String(r.id))) details.open = true;
    return details;
  }));
}

// The group-by choices: the configuration keys that differ between the runs.
function renderGroupChoices() {
  const select = document.getElementById("group-by");
  const keys = differingKeys([...state.runs.values()]);
  const have = [...select.options].slice(1).map((o) => o.value);
  if (JSON.stringify(keys) === JSON.stringify(have)) return;
  select.replaceChildren(select.options[0], ...keys.map((k) => el("option", { value: k }, k)));
  select.value = keys.includes(state.groupBy) ? state.groupBy : "";
}

// Hides or shows a run (by id) or a group of runs ("group:VALUE") in every chart.
function toggle(key) {
  if (state.hidden.has(key)) state.hidden.delete(key);
  else state.hidden.add(key);
  for (const chart of state.charts.values()) chart.applyVisibility();
  renderTable();
}

// ---- charts ----------------------------------------------------------------------------------

// How far a run's curves reach on the x axis.
function runExtent(r) {
  const steps = r.last_step || 0;
  if (state.x === "step") return steps;
  if (state.x === "tokens") return steps * (r.tokens_per_step || 1);
  return r.wall_s || 0;
}

// The x range [0, hi] a chart asks its curves for: the runs' extent, rounded up to a power of two
// while one of them is still running, so that the grid of downsampled points (and so every run's
// curve) is fetched again only when the longest run has doubled, not at each new row.
function chartEnd(runs) {
  const extent = Math.max(1, ...runs.map(runExtent));
  return runs.some((r) => r.status === "running") ? 2 ** Math.ceil(Math.log2(extent)) : extent;
}

function metricOrder(a, b) {
  const first = ["train/loss", "val/loss"];
  const ia = first.indexOf(a), ib = first.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a.localeCompare(b);
}

// Which charts are on screen, and how wide each is: read from the observers' entries, never from
// the element (reading clientWidth while the page changes makes the browser lay out the whole page
// again, a second each time with a thousand runs in the table and the legends).
const observer = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const chart = e.target.chart;
    chart.onScreen = e.isIntersecting;
    if (chart.onScreen) chart.update();
  }
});
const sizer = new ResizeObserver((entries) => {
  for (const e of entries) e.target.chart.resize(e.contentRect.width);
});

class Chart {
  constructor(experiment, metric, parent) {
    this.experiment = experiment;
    this.metric = metric;
    this.data = new Map();  // run id -> {version, key, x, y}
    this.lines_ = [];       // what is drawn: {key, label, raw, smooth...} (lines())
    this.plot = null;
    this.onScreen = false;
    this.pending = false;
    this.cursor = el("div", { class: "cursor" });
    this.legend = el("div", { class: "legend" });
    this.area = el("div", { class: "plot" });
    this.el = el("div", { class: "chart", "data-metric": metric, "data-experiment": experiment },
                 el("h3", {}, metric), this.area, this.cursor, this.legend);
    this.el.chart = this;
    this.width = 0;  // the chart's, from `sizer`
    parent.append(this.el);
    observer.observe(this.el);
    sizer.observe(this.el);
  }

  runs() {
    return shownRuns().filter((r) => r.experiment === this.experiment &&
                                     r.metrics.includes(this.metric));
  }

  async update() {
    const runs = this.runs();
    const hi = chartEnd(runs);
    const key = `${state.x}|${hi}`;
    const stale = runs.filter((r) => {
      const d = this.data.get(r.id);
      return !d || d.version !== r.version || d.key !== key;
    });
    // A chart of many runs is drawn first from a coarse answer (COARSE_POINTS a curve, quick to
    // send and draw), then again at full resolution.
    const coarse = !EMBEDDED && runs.length > COARSE_ABOVE && runs.every((r) => !this.data.has(r.id));
    if (stale.length && this.onScreen && !this.pending) {
      this.pending = true;
      const width = Math.max(320, Math.round(this.width || 560));
      const points = coarse ? COARSE_POINTS
        : Math.max(16, Math.min(width, Math.floor(POINT_BUDGET / Math.max(1, runs.length))));
      const query = new URLSearchParams({ ids: stale.map((r) => r.id).join(","), metric: this.metric,
                                          x: state.x, points, lo: 0, hi });
      try {
        for (const answer of await api("/api/metrics", query)) {
          const m = answer.metrics[this.metric] || { x: [], y: [] };
          this.data.set(answer.id, { version: answer.version, key: coarse ? `${key}|coarse` : key,
                                     x: m.x, y: m.y });
        }
      } catch (err) {
        showError(err);
      } finally {
        this.pending = false;
      }
      this.draw(runs);
      // The full resolution once every chart on screen is drawn: its answers, large and slow to
      // read, would otherwise hold up the first drawing of the others.
      if (coarse) {
        await chartsOnScreenDrawn();
        return this.update();
      }
    }
    this.draw(runs);
  }

  // What the chart draws: one line per run, or per group of runs (--group-by a config key: the
  // mean of the group's runs with their min..max band, at the x where every one of them has a
  // point, as `compare --group-seeds` does).
  lines(drawn) {
    if (!state.groupBy)
      return drawn.map((r) => {
        const d = this.data.get(r.id);
        return { key: r.id, label: r.label, title: r.fullLabel, colour: colour(r.id), x: d.x, y: d.y };
      });
    const groups = new Map();
    for (const r of drawn) {
      const value = r.config[state.groupBy] ?? "(unset)";
      if (!groups.has(value)) groups.set(value, []);
      groups.get(value).push(r);
    }
    const short = state.groupBy.split(".").pop();
    return [...groups.keys()].sort().map((value, i) => {
      const members = groups.get(value);
      const points = members.map((r) => {
        const d = this.data.get(r.id), m = new Map();
        d.x.forEach((x, k) => { if (d.y[k] != null) m.set(x, d.y[k]); });
        return m;
      });
      const x = [...points[0].keys()].filter((v) => points.every((m) => m.has(v)))
                                     .sort((a, b) => a - b);
      const y = [], lo = [], hi = [];
      for (const v of x) {
        const vs = points.map((m) => m.get(v));
        y.push(vs.reduce((a, b) => a + b, 0) / vs.length);
        lo.push(Math.min(...vs));
        hi.push(Math.max(...vs));
      }
      return { key: `group:${value}`, label: `${short}=${value} (${members.length})`,
               title: `${state.groupBy}=${value}: mean and min..max of ${members.length} run(s): ` +
                      members.map((r) => r.label).join(", "),
               colour: colour(i), x, y, lo, hi };
    });
  }

  draw(runs) {
    const drawn = runs.filter((r) => this.data.has(r.id));
    // Nothing new since the last draw: leave the chart (and the user's zoom) alone.
    const signature = JSON.stringify([drawn.map((r) => [r.id, r.label, this.data.get(r.id).version,
      this.data.get(r.id).key, r.config[state.groupBy]]), state.smooth, state.logY, state.groupBy]);
    if (this.plot && signature === this.signature) return this.applyVisibility();
    this.signature = signature;
    const lines = this.lines(drawn);
    const positive = (ys) => (state.logY ? ys.map((v) => (v > 0 ? v : null)) : ys);
    // The faint raw curves only where they can be told apart (and drawn quickly).
    const withRaw = state.smooth > 0 && lines.length <= RAW_UP_TO;
    const tables = lines.map((l) => {
      const y = positive(l.y);
      return [l.x, ...(withRaw ? [y] : []), smooth(y, state.smooth),
              ...(l.lo ? [positive(l.lo), positive(l.hi)] : [])];
    });
    const data = tables.length ? uPlot.join(tables) : [[]];
    let s = 1;
    for (const l of lines) {
      l.raw = withRaw ? s++ : undefined;
      l.smooth = s++;
      if (l.lo) { l.loSeries = s++; l.hiSeries = s++; }
    }
    const layout = JSON.stringify([lines.map((l) => [l.key, l.label]), state.logY, state.x, withRaw]);
    if (this.plot && this.layout === layout) {
      const zoom = this.zoomed ? { min: this.plot.scales.x.min, max: this.plot.scales.x.max } : null;
      this.plot.setData(data, !zoom);
      if (zoom) this.plot.setScale("x", zoom);
    } else {
      this.plot?.destroy();
      this.zoomed = false;
      this.layout = layout;
      this.plot = new uPlot(this.options(lines), data, this.area);
      this.renderLegend(lines);
      if (lines.length && window.nanolab.firstDrawMs === null)
        window.nanolab.firstDrawMs = performance.now();
    }
    this.lines_ = lines;
    this.applyVisibility();
  }

  options(lines) {
    const series = [{ label: state.x }], bands = [];
    for (const l of lines) {
      const c = l.colour;
      if (l.raw !== undefined)
        series.push({ label: `${l.label} (raw)`, stroke: rgb(c, 0.22), width: 1, spanGaps: true,
                      points: { show: false } });
      series.push({ label: l.label, stroke: rgb(c), width: 2, spanGaps: true,
                    points: { show: false } });
      if (l.lo) {
        for (const end of ["min", "max"])
          series.push({ label: `${l.label} ${end}`, stroke: rgb(c, 0.3), width: 0.5,
                        spanGaps: true, points: { show: false } });
        bands.push({ series: [l.hiSeries, l.loSeries], fill: rgb(c, 0.12) });
      }
    }
    const width = Math.max(320, Math.round(this.width || 560));
    return {
      width, height: 260, series, bands, legend: { show: false },
      scales: { x: { time: false }, y: { distr: state.logY ? 3 : 1 } },
      axes: [{ label: state.x === "wall" ? "wall s" : state.x }, { size: 60 }],
      cursor: { drag: { x: true, y: false } },
      hooks: {
        setCursor: [(u) => this.showValues(u)],
        setSelect: [() => { this.zoomed = true; }],
        ready: [(u) => u.over.addEventListener("dblclick", () => { this.zoomed = false; })],
      },
    };
  }

  renderLegend(lines) {
    this.legend.replaceChildren(...lines.map((l) => {
      const attrs = { class: "entry", "data-key": l.key, title: l.title, onclick: () => toggle(l.key) };
      if (typeof l.key === "number") attrs["data-run"] = l.key;
      return el("span", attrs, el("i", { class: "swatch", style: `background:${rgb(l.colour)}` }),
                el("span", { class: "label" }, l.label), el("span", { class: "value" }));
    }));
  }

  applyVisibility() {
    if (!this.plot) return;
    for (const l of this.lines_ || []) {
      const show = !state.hidden.has(l.key);
      for (const s of [l.raw, l.smooth, l.loSeries, l.hiSeries])
        if (s !== undefined && this.plot.series[s].show !== show) this.plot.setSeries(s, { show });
    }
    (this.lines_ || []).forEach((l, k) => {
      this.legend.children[k]?.classList.toggle("off", state.hidden.has(l.key));
    });
  }

  // The value of every visible line at the cursor's x: the smoothed one, or the nearest point
  // when the line has none at exactly that x.
  showValues(u) {
    const idx = u.cursor.idx;
    const values = this.legend.querySelectorAll(".value");
    if (idx == null) {
      this.cursor.textContent = "";
      values.forEach((v) => { v.textContent = ""; });
      return;
    }
    this.cursor.textContent = `${state.x === "wall" ? "wall s" : state.x} ${fmt(u.data[0][idx])}`;
    (this.lines_ || []).forEach((l, k) => {
      const ys = u.data[l.smooth];
      let v = ys[idx];
      for (let d = 1; v == null && d < ys.length; d++) v = ys[idx - d] ?? ys[idx + d];
      if (values[k]) values[k].textContent = state.hidden.has(l.key) ? "" : fmt(v);
    });
  }

  resize(width) {
    if (Math.round(width) === Math.round(this.width)) return;
    this.width = width;
    if (this.plot) this.plot.setSize({ width: Math.max(320, Math.round(width)), height: 260 });
  }

  remove() {
    observer.unobserve(this.el);
    sizer.unobserve(this.el);
    this.plot?.destroy();
    this.el.remove();
  }
}

function syncCharts() {
  const runs = shownRuns();
  const wanted = new Map();  // experiment -> Set(metric)
  for (const r of runs) {
    if (!wanted.has(r.experiment)) wanted.set(r.experiment, new Set());
    for (const m of r.metrics) wanted.get(r.experiment).add(m);
  }
  for (const [key, chart] of state.charts)
    if (!wanted.get(chart.experiment)?.has(chart.metric)) {
      chart.remove();
      state.charts.delete(key);
    }
  const main = document.getElementById("charts");
  for (const experiment of [...wanted.keys()].sort()) {
    const id = `experiment-${experiment}`;
    let section = document.getElementById(id);
    if (!section) {
      section = el("section", { id, class: "experiment" }, el("h2", {}, experiment || "(no name)"),
                   el("div", { class: "experiment-charts" }));
      main.append(section);
    }
    const grid = section.querySelector(".experiment-charts");
    for (const metric of [...wanted.get(experiment)].sort(metricOrder)) {
      const key = `${experiment}\n${metric}`;
      if (!state.charts.has(key)) state.charts.set(key, new Chart(experiment, metric, grid));
    }
  }
  for (const section of main.querySelectorAll("section.experiment"))
    if (!wanted.has(section.id.slice("experiment-".length))) section.remove();
  for (const chart of state.charts.values()) chart.update();
}

// ---- scatter: a config key against a summary value, one point per shown run -----------------

const scatter = { plot: null, signature: "" };

function fillSelect(select, values) {
  const have = [...select.options].map((o) => o.value);
  if (JSON.stringify(values) === JSON.stringify(have)) return;
  const current = select.value;
  select.replaceChildren(...values.map((v) => el("option", { value: v }, v)));
  if (values.includes(current)) select.value = current;
}

function renderScatter() {
  const runs = shownRuns();
  const xSelect = document.getElementById("scatter-x"), ySelect = document.getElementById("scatter-y");
  fillSelect(xSelect, differingKeys([...state.runs.values()]));
  const fresh = ySelect.options.length === 0;
  fillSelect(ySelect, [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort());
  if (fresh && [...ySelect.options].some((o) => o.value === "best_val_loss"))
    ySelect.value = "best_val_loss";
  const xKey = xSelect.value, yKey = ySelect.value;
  const points = runs.filter((r) => xKey in r.config && Number.isFinite(r.summary[yKey]));
  // Numbers as they are; other values (plugin names) as categories 0, 1, 2... in sorted order.
  const numeric = points.every((r) => !Number.isNaN(Number(r.config[xKey])));
  const categories = [...new Set(points.map((r) => r.config[xKey]))].sort();
  const xOf = (r) => (numeric ? Number(r.config[xKey]) : categories.indexOf(r.config[xKey]));
  points.sort((a, b) => xOf(a) - xOf(b));
  const signature = JSON.stringify([xKey, yKey, points.map((r) => [r.id, r.label, r.summary[yKey]])]);
  if (signature === scatter.signature) return;
  scatter.signature = signature;
  scatter.plot?.destroy();
  scatter.plot = null;
  const area = document.getElementById("scatter");
  if (!xKey || !yKey || points.length === 0) {
    area.replaceChildren(el("p", { class: "hint" }, "No run has both values yet."));
    return;
  }
  area.replaceChildren();
  const xs = points.map(xOf);
  const logX = numeric && xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 100;
  scatter.points = points;
  scatter.plot = new uPlot({
    width: Math.max(320, Math.min(900, sectionWidth.get("scatter-section") || 600)), height: 260,
    legend: { show: false },
    scales: { x: { time: false, distr: logX ? 3 : 1 } },
    axes: [{ label: xKey, values: (u, ticks) => ticks.map((t) => (numeric ? fmt(t) : categories[t] ?? "")) },
           { label: yKey, size: 60 }],
    series: [{}, { stroke: rgb(PALETTE[0]), paths: () => null,
                   points: { show: true, size: 8, fill: rgb(PALETTE[0], 0.6) } }],
    hooks: { setCursor: [(u) => {
      const r = u.cursor.idx == null ? null : scatter.points[u.cursor.idx];
      document.getElementById("scatter-point").textContent =
        r ? `${r.label}: ${xKey}=${r.config[xKey]}, ${yKey}=${fmt(r.summary[yKey])}` : "";
    }] },
  }, [xs, points.map((r) => r.summary[yKey])], area);
}

// The compare table, the scatter and the samples are made only while their section is on screen
// (with a thousand runs each costs more than a poll's interval), and only once the charts on
// screen at the first poll are drawn.
const lazy = { "compare-section": renderCompare, "scatter-section": renderScatter,
               "samples-section": renderSamples };
const onScreen = new Set(), sectionWidth = new Map();
const lazyObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    sectionWidth.set(e.target.id, e.boundingClientRect.width);
    if (e.isIntersecting) onScreen.add(e.target.id);
    else onScreen.delete(e.target.id);
  }
  renderLazy();
});
for (const id of Object.keys(lazy)) lazyObserver.observe(document.getElementById(id));
function renderLazy() {
  if (!state.drawn) return;
  for (const [id, render] of Object.entries(lazy)) if (onScreen.has(id)) render();
}

// ---- polling ---------------------------------------------------------------------------------

function showError(err) {
  const status = document.getElementById("status");
  status.textContent = EMBEDDED ? err.message : `cannot reach nanolab serve: ${err.message}`;
  status.className = "error";
}

function renderStatus() {
  const all = state.runs.size, shown = shownRuns().length;
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = `${all} runs` + (shown < all ? ` (${shown} shown)` : "") +
    ` · ${state.updated}`;
}

async function poll() {
  try {
    const runs = await api("/api/runs");
    state.runs = new Map(runs.map((r) => [r.id, r]));
    shownCache = null;
    labelRuns(runs);
    state.polls++;
    state.updated = EMBEDDED ? `written ${EMBEDDED.about.written} by nanolab report`
                             : `updated ${new Date().toLocaleTimeString()}`;
    renderStatus();
    syncCharts();
    // The first time, the charts on screen are drawn before the rest of the page is made.
    if (state.polls === 1) {
      await chartsOnScreenDrawn();
      state.drawn = true;
    }
    renderTable();
    renderGroupChoices();
    renderDiff();
    renderLazy();
  } catch (err) {
    showError(err);
  }
  if (!EMBEDDED) setTimeout(poll, POLL_MS);
}

// Resolves once every chart on screen has drawn a line for each of its runs (or after 5 s).
async function chartsOnScreenDrawn() {
  const end = performance.now() + 5000;
  if (state.charts.size === 0) return;
  do {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const shown = [...state.charts.values()].filter((c) => c.onScreen);
    if (shown.length && shown.every((c) => c.lines_.length === c.runs().length)) return;
  } while (performance.now() < end);
}

function redrawAll() {
  for (const chart of state.charts.values()) chart.update();
}

document.getElementById("x-axis").addEventListener("change", (e) => {
  state.x = e.target.value;
  redrawAll();
});
document.getElementById("log-y").addEventListener("change", (e) => {
  state.logY = e.target.checked;
  redrawAll();
});
document.getElementById("smooth").addEventListener("input", (e) => {
  state.smooth = Number(e.target.value);
  document.getElementById("smooth-value").textContent = state.smooth.toFixed(2);
  redrawAll();
});
document.getElementById("group-by").addEventListener("change", (e) => {
  state.groupBy = e.target.value;
  redrawAll();
});
document.getElementById("compare-metric").addEventListener("change", renderCompare);
for (const id of ["scatter-x", "scatter-y"])
  document.getElementById(id).addEventListener("change", renderScatter);
document.getElementById("filter").addEventListener("input", (e) => {
  state.filter = e.target.value;
  shownCache = null;
  renderStatus();
  renderLazy();
  renderTable();
  syncCharts();
});

window.nanolab = {
  state,
  colour,
  firstDrawMs: null,  // performance.now() when the first curve was drawn
  chart: (experiment, metric) => state.charts.get(`${experiment}\n${metric}`),
  // A line's raw curve in a chart (by run id or "group:VALUE"), as drawn: its number of points
  // and its last x.
  curve(experiment, metric, key) {
    const chart = this.chart(experiment, metric);
    const line = chart?.lines_.find((l) => l.key === key);
    if (!line) return { points: 0, lastX: null };
    const xs = chart.plot.data[0], ys = chart.plot.data[line.raw ?? line.smooth];
    let points = 0, lastX = null;
    ys.forEach((v, i) => { if (v != null) { points++; lastX = xs[i]; } });
    return { points, lastX };
  },
};

poll();
