#!/usr/bin/python3
"""Benchmark behind the dashboard's choice of charting library (docs/compare.md, "Why uPlot").
Not a test.

  chart_libraries.py UPLOT_JS [RUNS ROWS]

Draws RUNS line series of ROWS points each (default 1,000 x 10,000, the size the dashboard is
held to) on one chart in headless Chromium (Selenium), with each candidate library at its
fastest settings: uPlot (UPLOT_JS: the build's copy, build/framework/page_deps/node_modules/
uplot/dist/uPlot.iife.min.js), dygraphs (Debian libjs-dygraphs) and Chart.js (Debian
libjs-chart.js: no animation, no parsing, normalized data, min/max decimation). Two payloads: the
raw rows, and the rows as the page asks for them (200 points a curve, downsampled by the server).
Prints, for each library and payload, the time from handing over the data (already in memory as
typed arrays) to the chart painted, median of three page loads; a library that takes longer than
120 s is stopped and reported so.
"""
import os
import statistics
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service

LIBRARIES = {
    "uplot": None,  # from the command line
    "dygraphs": "/usr/share/javascript/dygraphs/dygraph.min.js",
    "chart.js": "/usr/share/javascript/chart.js/chart.min.js",
}

# The same curves for every library: loss-like, a deterministic noise per run.
MAKE_DATA = """
function makeData(runs, rows) {
  const x = new Float64Array(rows);
  for (let i = 0; i < rows; i++) x[i] = i + 1;
  const ys = [];
  let seed = 12345;
  for (let r = 0; r < runs; r++) {
    const y = new Float64Array(rows), base = 1.5 + (r % 17) * 0.05;
    for (let i = 0; i < rows; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      y[i] = base + 2.5 / Math.sqrt(1 + i / 50) + 0.05 * (seed / 2147483648 - 0.5);
    }
    ys.push(y);
  }
  return { x, ys };
}
const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
"""

DRAW = {
    "uplot": """
      const opts = { width: 900, height: 400, legend: { show: false },
                     scales: { x: { time: false } },
                     series: [{}, ...d.ys.map((_, i) => ({ stroke: `hsl(${i * 37 % 360},60%,45%)`,
                                                             points: { show: false } }))] };
      new uPlot(opts, [d.x, ...d.ys], el);""",
    "dygraphs": """
      const rows = new Array(d.x.length);
      for (let i = 0; i < d.x.length; i++) {
        const row = new Array(d.ys.length + 1);
        row[0] = d.x[i];
        for (let r = 0; r < d.ys.length; r++) row[r + 1] = d.ys[r][i];
        rows[i] = row;
      }
      new Dygraph(el, rows, { width: 900, height: 400, legend: "never",
                              labels: ["x", ...d.ys.map((_, i) => "r" + i)] });""",
    "chart.js": """
      const canvas = document.createElement("canvas");
      canvas.width = 900; canvas.height = 400;
      el.append(canvas);
      const datasets = d.ys.map((y, r) => {
        const data = new Array(y.length);
        for (let i = 0; i < y.length; i++) data[i] = { x: d.x[i], y: y[i] };
        return { data, borderColor: `hsl(${r * 37 % 360},60%,45%)`, borderWidth: 1,
                 pointRadius: 0 };
      });
      new Chart(canvas, { type: "line", data: { datasets },
        options: { animation: false, parsing: false, normalized: true, responsive: false,
                   spanGaps: true,
                   plugins: { legend: { display: false }, tooltip: { enabled: false },
                              decimation: { enabled: true, algorithm: "min-max" } },
                   scales: { x: { type: "linear" } } } });""",
}


def page(library, script, runs, rows):
    return f"""<!doctype html><html><head><meta charset="utf-8">
<script src="file://{script}"></script></head><body><div id="chart"></div><script>
{MAKE_DATA}
window.result = null;
(async () => {{
  const d = makeData({runs}, {rows});
  const el = document.getElementById("chart");
  await painted();
  const start = performance.now();
  {DRAW[library]}
  await painted();
  window.result = performance.now() - start;
}})().catch((e) => {{ window.result = "error: " + e; }});
</script></body></html>"""


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit(__doc__)
    LIBRARIES["uplot"] = os.path.abspath(sys.argv[1])
    runs, rows = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) == 4 else (1000, 10000)
    for name, script in LIBRARIES.items():
        if not os.path.exists(script):
            sys.exit(f"{script}: not found ({name})")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(arg)
    with tempfile.TemporaryDirectory(prefix="nanolab-chart-bench-") as tmp:
        for points in (200, rows):
            for name, script in LIBRARIES.items():
                times = []
                for rep in range(3):
                    html = os.path.join(tmp, f"{name}-{points}-{rep}.html")
                    with open(html, "w") as f:
                        f.write(page(name, script, runs, points))
                    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                              options=options)
                    try:
                        driver.set_page_load_timeout(180)
                        driver.get("file://" + html)
                        result = None
                        start = time.monotonic()
                        while result is None and time.monotonic() - start < 120:
                            time.sleep(0.05)
                            result = driver.execute_script("return window.result")
                    except TimeoutException:
                        result = None
                    finally:
                        driver.quit()
                    if isinstance(result, str):
                        sys.exit(f"{name}: {result}")
                    times.append(result)
                    if result is None:
                        break  # one stop is enough to say so
                drawn = [t for t in times if t is not None]
                shown = (f"{statistics.median(drawn) / 1000:.3f} s (each: " +
                         ", ".join(f"{t / 1000:.3f}" for t in drawn) + ")"
                         if len(drawn) == len(times) else "over 120 s")
                print(f"{runs} runs x {points} points  {name:9}  {shown}", flush=True)


if __name__ == "__main__":
    main()
