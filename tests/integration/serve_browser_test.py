#!/usr/bin/python3
"""The page of `nanolab serve` in a real browser: Debian's Chromium, headless, driven by Selenium
through chromium-driver. Two short runs are trained to completion and a third keeps training
while the page is open; the test holds that the live run's curve gains points, that a legend
click removes a run's line from the canvas (its pixels are counted), that the filter shrinks the
runs table, and that every legend label is whole and unique. It saves screenshots for
docs/compare.md into OUT_DIR.

usage: serve_browser_test.py NANOLAB OUT_DIR   (ctest: browser.serve_page; exit 77 = skipped)
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

NANOLAB, OUT_DIR = sys.argv[1], sys.argv[2]
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


class ServePage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="nanolab-serve-browser-")
        tmp = cls.tmp.name
        exp = os.path.join(tmp, "tiny.toml")
        with open(exp, "w") as f:
            f.write(EXPERIMENT)
        runs = os.path.join(tmp, "runs")
        for name, lr in (("short", "3e-3"), (LONG_NAME, "1e-3")):
            subprocess.run([NANOLAB, "run", exp, "--out", runs, "--name", name, "--quiet",
                            "--set", f"optimizer.lr={lr}"], check=True)
        cls.trainer = subprocess.Popen(
            [NANOLAB, "run", exp, "--out", runs, "--name", "live", "--quiet",
             "--set", "train.max_iters=2000000", "--set", "train.log_interval=20",
             "--set", "train.eval_interval=1000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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

        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1300",
                    "--force-device-scale-factor=1"):
            options.add_argument(arg)
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.driver.get(cls.url)
        wait_for(lambda: cls.js("return window.nanolab && nanolab.curve('tiny', 'train/loss', "
                                f"{cls.ids['live']}).points > 0"), 20, "the first curves drawn")

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

    @classmethod
    def js(cls, script, *args):
        return cls.driver.execute_script(script, *args)

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

    def table_rows(self):
        return len(self.driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr"))

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
        self.js("const f = document.getElementById('filter'); f.value = '';"
                "f.dispatchEvent(new Event('input'));")
        wait_for(lambda: self.table_rows() == 3, 15, "every row back")

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

    def test_6_screenshots_for_the_docs(self):
        os.makedirs(OUT_DIR, exist_ok=True)
        self.driver.save_screenshot(os.path.join(OUT_DIR, "serve.png"))
        self.driver.execute_script("document.getElementById('table-section').scrollIntoView()")
        self.driver.save_screenshot(os.path.join(OUT_DIR, "serve-table.png"))
        self.driver.execute_script("window.scrollTo(0, 0)")


if __name__ == "__main__":
    needs(HAVE_SELENIUM, "python3-selenium is not installed (tools/install-deps.sh installs it)")
    needs(os.path.exists("/usr/bin/chromedriver") and os.path.exists("/usr/bin/chromium"),
          "chromium or chromium-driver is not installed (tools/install-deps.sh installs them)")
    unittest.main(argv=sys.argv[:1], verbosity=2)
