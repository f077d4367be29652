#!/usr/bin/python3
"""The dashboard page in a real browser: Debian's Chromium, headless, driven by Selenium through
chromium-driver, as `nanolab serve` serves it (serve) and as the file `nanolab report` writes
(report). Two short runs are trained to completion and a third keeps training. On both pages
(PageChecks) every run has a curve, a legend click removes a run's line from the canvas (its
pixels are counted), the filter shrinks the runs table, and every legend label is whole and
unique. The served page shows the live run's curve gaining points, and a second seed of a run,
trained while the page is open, joins its seed group in the compare table with the mean, std and
95 % interval of the two; the report, written once the live run is stopped, is opened from
file:// with the browser's network off and loads nothing.
Screenshots for docs/compare.md go into OUT_DIR.

usage: page_browser_test.py NANOLAB OUT_DIR serve|report
       (ctest: browser.serve_page, browser.report_page; exit 77 = skipped)
"""
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

NANOLAB, OUT_DIR, PAGE = (sys.argv[1:4] + [""] * 3)[:3]
EXPERIMENT = """[experiment]
name = "tiny"
seed = 7
[data]
dataset = "synthetic:copy"
block_size = 16
batch_size = 8
[model]
n_layer = 2
n_head = 2
n_embd = 32
[optimizer]
lr = 3e-3
[train]
max_iters = 30
warmup_iters = 5
eval_interval = 10
eval_iters = 2
log_interval = 1
checkpoint_interval = 1000000
sample_tokens = 8
"""
LONG_NAME = "a-run-whose-name-is-far-too-long-for-any-legend-of-a-chart"


def needs(present, why):
    """Skip (exit 77) without a tool, but fail under CI=true, where every tool is installed."""
    if present:
        return
    if os.environ.get("CI") == "true":
        sys.exit(f"CI=true, where every tool is installed, but: {why}")
    print(f"skipped: {why}")
    sys.exit(77)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


# Waits for what the page must do; the timeouts only stop a hang (on a loaded machine the live run,
# the server's rescan and the page's poll all wait for a core): how soon is printed, not asserted.
def wait_for(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def start_runs(tmp):
    """Trains the two short runs into tmp/runs and starts the live one; returns (runs, trainer)."""
    exp = os.path.join(tmp, "tiny.toml")
    with open(exp, "w") as f:
        f.write(EXPERIMENT)
    runs = os.path.join(tmp, "runs")
    for name, lr in (("short", "3e-3"), (LONG_NAME, "1e-3")):
        subprocess.run([NANOLAB, "run", exp, "--out", runs, "--name", name, "--quiet",
                        "--set", f"optimizer.lr={lr}"], check=True)
    trainer = subprocess.Popen(
        [NANOLAB, "run", exp, "--out", runs, "--name", "live", "--quiet",
         "--set", "train.max_iters=2000000", "--set", "train.log_interval=20",
         "--set", "train.eval_interval=1000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return runs, trainer


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300",
                "--force-device-scale-factor=1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class PageChecks:
    """What the served page and the report file both do. A subclass's setUpClass sets driver (on
    the page, its first curves drawn) and ids (run name -> id)."""

    @classmethod
    def js(cls, script, *args):
        return cls.driver.execute_script(script, *args)

    @classmethod
    def wait_for_curves(cls):
        wait_for(lambda: cls.js("return window.nanolab && nanolab.curve('tiny', 'train/loss', "
                                f"{cls.ids['live']}).points > 0"), 20, "the first curves drawn")

    def pixels_of(self, run_id, metric="train/loss"):
        """Pixels of the run's colour (its smoothed line) on the chart's canvas."""
        return self.js("""
            const [metric, id] = arguments;
            const chart = nanolab.chart('tiny', metric);
            const ctx = chart.plot.ctx, c = nanolab.colour(id);
            const img = ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height).data;
            let n = 0;
            for (let i = 0; i < img.length; i += 4)
              if (Math.abs(img[i] - c[0]) < 12 && Math.abs(img[i + 1] - c[1]) < 12 &&
                  Math.abs(img[i + 2] - c[2]) < 12 && img[i + 3] > 200) n++;
            return n;""", metric, run_id)

    def status(self):
        return self.driver.find_element(By.ID, "status").text

    def table_rows(self):
        return len(self.driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr"))

    def test_1_every_run_has_a_curve(self):
        for name, run_id in self.ids.items():
            curve = self.js("return nanolab.curve('tiny', 'train/loss', arguments[0])", run_id)
            self.assertGreater(curve["points"], 0, name)
            self.assertGreater(self.pixels_of(run_id), 0, name)
        # The short run's 30 logged steps (1 to 30), every one: a short curve is not downsampled.
        self.assertEqual(
            self.js("return nanolab.curve('tiny', 'train/loss', arguments[0])", self.ids["short"]),
            {"points": 30, "lastX": 30})

    def test_3_hiding_a_run_removes_its_line(self):
        short, other = self.ids["short"], self.ids[LONG_NAME]
        self.assertGreater(self.pixels_of(short), 0)
        others = self.pixels_of(other)
        self.assertGreater(others, 0)
        entry = self.driver.find_element(
            By.CSS_SELECTOR, f".chart[data-metric='train/loss'] .legend .entry[data-run='{short}']")
        entry.click()
        wait_for(lambda: self.pixels_of(short) == 0, 15, "the hidden run's line gone")
        self.assertIn("off", entry.get_attribute("class"))
        self.assertGreater(self.pixels_of(other), 0)  # the others stay
        entry.click()
        wait_for(lambda: self.pixels_of(short) > 0, 15, "the line back")

    def test_4_the_filter_shrinks_the_table(self):
        self.assertEqual(self.table_rows(), 3)
        box = self.driver.find_element(By.ID, "filter")
        box.send_keys("live")
        wait_for(lambda: self.table_rows() == 1, 15, "one row for 'live'")
        box.clear()
        box.send_keys("optimizer.lr<2e-3")  # only the long-named run has lr 1e-3
        wait_for(lambda: self.table_rows() == 1, 15, "one row for optimizer.lr<2e-3")
        row = self.driver.find_element(By.CSS_SELECTOR, "#runs tbody tr")
        self.assertEqual(int(row.get_attribute("data-run")), self.ids[LONG_NAME])
        self.assertTrue(self.status().startswith("3 runs (1 shown) · "), self.status())
        self.js("const f = document.getElementById('filter'); f.value = '';"
                "f.dispatchEvent(new Event('input'));")
        wait_for(lambda: self.table_rows() == 3, 15, "every row back")
        # The header counts what the charts draw: every run again.
        self.assertTrue(self.status().startswith("3 runs · "), self.status())
        wait_for(lambda: self.js("return nanolab.chart('tiny', 'train/loss').lines_.length") == 3,
                 15, "every line back")

    def test_5_every_legend_label_is_whole_and_unique(self):
        labels = self.js("""
            return [...document.querySelectorAll('.chart .legend')].map((legend) => {
              const box = legend.getBoundingClientRect();
              return [...legend.querySelectorAll('.entry')].map((e) => {
                const r = e.getBoundingClientRect();
                return {run: Number(e.dataset.run), text: e.querySelector('.label').textContent,
                        title: e.title, inside: r.left >= box.left - 1 && r.right <= box.right + 1,
                        clipped: e.scrollWidth > Math.ceil(r.width) + 1};
              });
            });""")
        self.assertGreater(len(labels), 0)
        for legend in labels:
            texts = [e["text"] for e in legend]
            self.assertEqual(len(texts), len(set(texts)), texts)
            for e in legend:
                self.assertTrue(e["inside"] and not e["clipped"], e)
                self.assertNotIn("…", e["text"])
                name = next(n for n, i in self.ids.items() if i == e["run"])
                self.assertIn(f"tiny/{name}", e["title"])  # the full label on hover
                if len(name) <= 32:
                    self.assertEqual(e["text"], name)
                else:
                    self.assertLess(len(e["text"]), len(name))
                    self.assertIn("lr=0.001", e["text"])


class ServePage(PageChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="nanolab-serve-browser-")
        runs, cls.trainer = start_runs(cls.tmp.name)
        cls.server = subprocess.Popen([NANOLAB, "serve", runs, "--port", "0"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sel = selectors.DefaultSelector()
        sel.register(cls.server.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=60):
            raise AssertionError("nanolab serve printed no address")
        line = cls.server.stdout.readline()
        cls.url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        # The live run is listed once its first rows are flushed.
        wait_for(lambda: any(r["name"] == "live" and r.get("last_step", -1) > 0
                             for r in cls.api_runs()), 60, "the live run's first rows")
        cls.ids = {r["name"]: r["id"] for r in cls.api_runs()}
        cls.driver = start_browser()
        cls.driver.get(cls.url)
        cls.wait_for_curves()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.trainer.send_signal(signal.SIGINT)
        cls.trainer.wait(timeout=60)
        cls.server.send_signal(signal.SIGINT)
        assert cls.server.wait(timeout=30) == 130, "nanolab serve: exit 130 after SIGINT"
        cls.tmp.cleanup()

    @classmethod
    def api_runs(cls):
        with urllib.request.urlopen(cls.url + "api/runs", timeout=10) as answer:
            return json.load(answer)

    def test_2_a_training_run_gains_points_live(self):
        live = self.ids["live"]
        before = self.js("return nanolab.curve('tiny', 'train/loss', arguments[0])", live)
        start = time.monotonic()
        after = wait_for(lambda: (lambda c: c if c["lastX"] > before["lastX"] else None)(
            self.js("return nanolab.curve('tiny', 'train/loss', arguments[0])", live)),
            30, "a new point of the live run")
        print(f"live run: last step {before['lastX']:.0f} -> {after['lastX']:.0f} "
              f"after {time.monotonic() - start:.2f} s")
        self.assertGreater(after["points"], 0)

    def test_6_screenshots_for_the_docs(self):
        os.makedirs(OUT_DIR, exist_ok=True)
        self.driver.save_screenshot(os.path.join(OUT_DIR, "serve.png"))
        self.driver.execute_script("document.getElementById('table-section').scrollIntoView()")
        self.driver.save_screenshot(os.path.join(OUT_DIR, "serve-table.png"))
        self.driver.execute_script("window.scrollTo(0, 0)")

    def test_7_a_second_seed_joins_its_group_with_mean_std_and_ci95(self):
        runs = os.path.join(self.tmp.name, "runs")
        subprocess.run([NANOLAB, "run", os.path.join(self.tmp.name, "tiny.toml"), "--out", runs,
                        "--name", "short-seed8", "--quiet", "--set", "optimizer.lr=3e-3",
                        "--set", "experiment.seed=8"], check=True)
        best = []
        for name in ("short", "short-seed8"):
            out = subprocess.run([NANOLAB, "compare", os.path.join(runs, "tiny", name),
                                  "--format", "json"], check=True, capture_output=True).stdout
            best.append(json.loads(out)[0]["best val/loss"])
        mean = sum(best) / 2
        std = abs(best[0] - best[1]) / 2 ** 0.5  # the sample std of two values
        ci95 = 12.706204736174707 * std / 2 ** 0.5  # scipy.stats.t.ppf(0.975, 1) x std / sqrt(n)
        self.assertGreater(std, 0, best)

        def group_of_two():
            table = self.js("""
                const t = document.querySelector('#compare table');
                if (!t) return null;
                const cells = (tr) => [...tr.children].map((c) => c.textContent);
                return {columns: cells(t.querySelector('thead tr')),
                        rows: [...t.querySelectorAll('tbody tr')].map(cells)};""")
            if not table or "n" not in table["columns"]:
                return None
            rows = [r for r in table["rows"] if r[table["columns"].index("n")] == "2"]
            return dict(zip(table["columns"], rows[0])) if rows else None

        def as_expected(row):  # mean to 6 significant digits, std and interval to 3
            cell = row["best val/loss"].split(" ± ")
            return (row["seeds"] == "7 8" and len(cell) == 2 and
                    abs(float(cell[0]) - mean) <= 1e-5 * mean and
                    abs(float(cell[1]) - std) <= 6e-3 * std and
                    abs(float(row["best val/loss ci95"]) - ci95) <= 6e-3 * ci95)
        # The page may have seen the new run while it trained, with fewer values: the table
        # follows the run's rows and ends with both seeds' best.
        last = {}

        def final_row():
            row = last["row"] = group_of_two()
            return row if row and as_expected(row) else None
        try:
            wait_for(final_row, 30, f"the seed group of seeds 7 and 8 with best val/loss "
                                    f"{mean} ± {std}, ci95 {ci95}")
        except AssertionError as e:
            raise AssertionError(f"{e}; the row last seen: {last.get('row')}") from None
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(os.path.join(OUT_DIR, "serve-compare.png"))


class ReportPage(PageChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="nanolab-report-browser-")
        runs, trainer = start_runs(cls.tmp.name)
        live = os.path.join(runs, "tiny", "live", "run.h5")
        wait_for(lambda: os.path.exists(live), 60, "the live run's file")
        time.sleep(1)  # a few logged rows
        trainer.send_signal(signal.SIGINT)
        trainer.wait(timeout=60)
        cls.report = os.path.join(cls.tmp.name, "report.html")
        written = subprocess.run([NANOLAB, "report", runs, "-o", cls.report], check=True,
                                 capture_output=True, text=True).stdout
        assert written == f"{cls.report}: 3 runs\n", written
        cls.driver = start_browser()
        # No network at all: the file must draw from what it holds.
        cls.driver.execute_cdp_cmd("Network.enable", {})
        cls.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        cls.driver.get("file://" + cls.report)
        wait_for(lambda: cls.js("return window.nanolab && nanolab.state.runs.size === 3"), 20,
                 "the embedded runs read")
        cls.ids = {r["name"]: r["id"] for r in
                   cls.js("return [...nanolab.state.runs.values()]"
                          ".map((r) => ({name: r.name, id: r.id}))")}
        cls.wait_for_curves()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.tmp.cleanup()

    def test_2_the_file_loads_nothing_and_says_what_it_is(self):
        self.assertEqual(self.js("return performance.getEntriesByType('resource').length"), 0)
        self.assertIn("written", self.driver.find_element(By.ID, "status").text)
        self.assertNotIn("cannot", self.driver.find_element(By.ID, "status").text)
        self.assertIn("nanolab report", self.driver.find_element(By.ID, "origin").text)
        # The compare table of the report: a row per run.
        self.assertEqual(
            len(self.driver.find_elements(By.CSS_SELECTOR, "#compare tbody tr")), 3)
        # A second look, a poll's interval later: nothing was asked of a server.
        time.sleep(1.5)
        self.assertEqual(self.js("return nanolab.state.polls"), 1)

    def test_6_screenshot_for_the_docs(self):
        os.makedirs(OUT_DIR, exist_ok=True)
        self.driver.save_screenshot(os.path.join(OUT_DIR, "report.png"))


if __name__ == "__main__":
    needs(HAVE_SELENIUM, "python3-selenium is not installed (tools/install-deps.sh installs it)")
    needs(os.path.exists("/usr/bin/chromedriver") and os.path.exists("/usr/bin/chromium"),
          "chromium or chromium-driver is not installed (tools/install-deps.sh installs them)")
    pages = {"serve": ServePage, "report": ReportPage}
    if PAGE not in pages:
        sys.exit(__doc__)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(pages[PAGE])
    sys.exit(0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1)
