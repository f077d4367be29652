#!/usr/bin/python3
"""Benchmarks of `nanolab serve` (docs/compare.md, "nanolab serve" / Speed). Not a test.

  serve.py page NANOLAB RUNS_DIR
      Serves RUNS_DIR (e.g. the 1,000 runs x 10,000 rows that `bench_compare --keep` leaves in
      /tmp/nanolab-bench-compare) and opens the page in headless Chromium (Selenium): prints the
      time until the first curve is drawn and until every chart on screen has all its runs, both
      from the start of the page load, and the time of GET /api/runs. Three page loads.

  serve.py load NANOLAB EXPERIMENT ITERS
      Trains EXPERIMENT for ITERS steps three times alone and three times while `nanolab serve`
      answers 50 clients that each poll /api/runs and the run's metrics every second (as the
      page does), alternating, and prints each run's ms/iter (its summary) and the medians.

Needs Debian's chromium, chromium-driver and python3-selenium (tools/install-deps.sh).
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def start_server(nanolab, root):
    server = subprocess.Popen([nanolab, "serve", root, "--port", "0"], stdout=subprocess.PIPE,
                              text=True)
    url = re.search(r"http://127\.0\.0\.1:\d+/", server.stdout.readline()).group(0)
    return server, url


def stop(process):
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def page(nanolab, root):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    t0 = time.monotonic()
    server, url = start_server(nanolab, root)
    print(f"nanolab serve read the runs and listened after {time.monotonic() - t0:.2f} s")
    t0 = time.monotonic()
    with urllib.request.urlopen(url + "api/runs") as answer:
        runs = json.load(answer)
    print(f"GET /api/runs: {len(runs)} runs, {time.monotonic() - t0:.3f} s")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        for attempt in range(3):
            driver.get(url)
            complete = None
            end = time.monotonic() + 120
            while time.monotonic() < end:
                # Every chart on screen drawn with every one of its runs.
                complete = driver.execute_script("""
                    const charts = [...nanolab.state.charts.values()].filter((c) => c.onScreen);
                    if (!charts.length || !charts.every((c) => c.plot &&
                        c.lines_.length === c.runs().length)) return null;
                    return performance.now();""")
                if complete:
                    break
                time.sleep(0.02)
            first = driver.execute_script("return nanolab.firstDrawMs")
            shown = driver.execute_script(
                "return [...nanolab.state.charts.values()].filter((c) => c.onScreen).length")
            print(f"page load {attempt + 1}: first curve drawn at {first:.0f} ms, "
                  f"{shown} chart(s) on screen complete at {complete:.0f} ms")
    finally:
        driver.quit()
        stop(server)


def load(nanolab, experiment, iters):
    tmp = tempfile.mkdtemp(prefix="nanolab-bench-serve-")
    runs = os.path.join(tmp, "runs")
    os.makedirs(runs)
    server, url = start_server(nanolab, runs)
    results = {"alone": [], "50 clients": []}
    try:
        for k in range(6):
            loaded = k % 2 == 1
            name = f"r{k}"
            stop_clients = threading.Event()
            answers, failures = [0], [0]

            def client():
                while not stop_clients.is_set():
                    try:
                        with urllib.request.urlopen(url + "api/runs", timeout=10) as a:
                            ids = [r["id"] for r in json.load(a) if r["name"] == name]
                        for i in ids:
                            with urllib.request.urlopen(
                                    f"{url}api/runs/{i}/metrics?points=800", timeout=10) as a:
                                a.read()
                        answers[0] += 1
                    except OSError:
                        failures[0] += 1
                    stop_clients.wait(1.0)

            clients = [threading.Thread(target=client) for _ in range(50 if loaded else 0)]
            for c in clients:
                c.start()
            subprocess.run([nanolab, "run", experiment, "--out", runs, "--name", name, "--quiet",
                            "--set", f"train.max_iters={iters}"], check=True)
            stop_clients.set()
            for c in clients:
                c.join()
            summary = subprocess.run(
                ["/usr/bin/python3", "-c", "import h5py,sys; f=h5py.File(sys.argv[1]);"
                 "print(f['summary'].attrs['ms_per_iter'])",
                 os.path.join(runs, os.path.basename(experiment)[:-5], name, "run.h5")],
                capture_output=True, text=True, check=True).stdout
            ms = float(summary)
            results["50 clients" if loaded else "alone"].append(ms)
            extra = f" ({answers[0]} answers, {failures[0]} failed)" if loaded else ""
            print(f"{'50 clients' if loaded else 'alone':>10}: {ms:.2f} ms/iter{extra}")
    finally:
        stop(server)
    alone, busy = (statistics.median(results[k]) for k in ("alone", "50 clients"))
    print(f"median ms/iter: alone {alone:.2f}, with 50 clients {busy:.2f} "
          f"({100 * (busy / alone - 1):+.1f} %)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "page":
        page(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
