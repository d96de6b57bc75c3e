"""Speed through the browser (issue 12): headless Chromium (Debian's), HTTP and Socket.IO
against the app under gunicorn (``-k gthread``, as ``scripts/start`` serves it), a real
worker and real sshd hosts. Times are the browser's clock (``Date.now()``), the worker's
for message timestamps: one machine, one clock.

1. click: one host, warm worker. From the click on "Run…" in the host list (a submit
   listener notes the time) until the run page's row is final (its data-proc attribute
   observed; the page paints it in the same frame).
   Target: < 300 ms median.
2. fan-out: 200 hosts, cold connections (worker ``MINKE_POOL_IDLE_TTL=0``), "select all
   matching", "Run…", from the click on "Confirm and run" until all 200 rows are final;
   plain fabric (thread pool of 50, new connection per host) and the engine alone (dispatched
   in-process as the CLI does, until run.finished, no page) in the same rounds; where the
   time went (stored, first session start, last end, run finished, page final).
   Target: ≤ 1.3x fabric.
3. storm: a session adding 1000 messages/s for 10 s on the open run page; each message's
   latency from its worker timestamp until it is in the page's DOM; lost and duplicated.
   Target: p99 < 100 ms, 0 lost, 0 duplicated.
4. big page: a finished run of 10,000 objects (rows stored directly) opens (load event:
   its first page of 200 rows, the counts of all); filtering by status (the server's pages
   of the matching rows), its last page, and a run of 10,000 unfinished sessions until
   the join's answer (every session's status, the shown rows' changes) is applied.
   Target: opens < 1 s.
5. big output: a session that printed 100 MB; its output view shows the tail.
   Target: < 500 ms.
6. live (issue 22): a run of 2,000 objects whose sessions change at 1,000 events/s in all
   (each starts, adds three messages, ends: stored and published as the worker's writer
   does, from this process) on the open run page, while the bench clicks the page every
   250 ms. Measured in Chromium: input delay of those clicks (Event Timing:
   processingStart − startTime), long tasks (frames blocked), the counts at the end against
   what was published, the time from the last event until the page counts every object.
   Targets: input delay < 100 ms, no task > 200 ms, nothing lost.

    .venv/bin/python bench/web.py [--smoke] [--rounds N] [--only PARTS] [--output-lines N]
        [--live-objects N]
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"  # noqa: A001

from . import common
from .bench_sessions import FANOUT_COMMAND
from .common import Bench, BenchError, banner, fabric_connection, median, parser, table, verdict

common.SUBNETS.setdefault("web", 6)  # this bench's loopback /24: 127.0.6.x

from tests.web_services import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

PASSWORD = "bench-password"
PARTS = ("click", "storm", "output", "fanout", "page", "live")
FINAL = ("completed", "stopped", "canceled", "failed")
# runs in every page before its own scripts: notes when every row of a run page is final
# (observing data-proc, not polling every frame: that would take CPU the worker and sshd
# need) and when each message element enters the DOM
WATCH = """
window.__bench = { t0: Number(sessionStorage.getItem("t0") || 0), messages: [] };
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("results");
  if (!table) return;
  const rows = table.tBodies[0].rows;
  const check = () => {
    if (window.__bench.allFinal) return;
    for (const row of rows) if (!%s.includes(row.dataset.proc)) return;
    window.__bench.allFinal = Date.now();
  };
  check();
  new MutationObserver((records) => {
    const now = Date.now();
    for (const record of records) for (const node of record.addedNodes) {
      if (node.nodeType === 1 && node.matches("li.msg")) {
        window.__bench.messages.push([node.textContent, now]);
      }
    }
    if (records.some((record) => record.attributeName === "data-proc")) check();
  }).observe(table, { childList: true, subtree: true, attributes: true,
                      attributeFilter: ["data-proc"] });
});
""" % list(FINAL)  # noqa: UP031 - a JS literal in JS source


class WebBench(Bench):
    def app_config(self) -> dict:
        config = super().app_config()
        config["MINKE_SESSION_MODULES"] += ",bench.web_sessions"
        return config


def create_admin() -> None:
    from webapp.extensions import db
    from webapp.models import Role, User

    user = User(name="admin", roles=[Role(name="admin", permissions=["minke.admin"])])
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()


def click_and_watch(page, hosts: str, *, all_matching: bool, timeout: float) -> dict:
    """Select hosts on the host list, choose the fan-out session, confirm; wait for every
    row to be final. ``hosts``: a search that lists them."""
    page.goto(f"/objects/host/?q={hosts}")
    if all_matching:
        page.locator("#select-all-matching").check()
    else:
        page.locator("input[name=ids]").first.check()
    page.get_by_role("combobox", name="Session", exact=True).select_option("FanoutSession")
    note_submit = "form => form.addEventListener('submit', () => " \
                  "sessionStorage.setItem('t0', Date.now()))"
    page.locator("#run-form").evaluate(note_submit)
    page.get_by_role("button", name="Run…").click()
    page.wait_for_load_state()
    if "/runs/" not in page.url:  # a confirmation page (all matching): the last click counts
        page.locator("article.prepare form").evaluate(note_submit)
        page.get_by_role("button", name="Confirm and run").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    page.wait_for_function("() => window.__bench.allFinal", timeout=timeout * 1000)
    times = page.evaluate("() => [window.__bench.t0, window.__bench.allFinal]")
    # where the time went, from the click (epoch ms → ms after the click)
    marks = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
        return [performance.timeOrigin, n.responseStart, n.domContentLoadedEventEnd,
                at('minke-script'), at('minke-joined')]; }""")
    origin = marks[0] - times[0]
    steps = {name: origin + value for name, value in zip(
        ("response", "dcl", "script", "joined"), marks[1:], strict=True) if value is not None}
    statuses = page.evaluate("""() => [...document.querySelectorAll('#results tbody tr')]
        .map(row => row.dataset.status)""")
    if set(statuses) != {"success"}:
        raise BenchError(f"not every row succeeded: {sorted(set(statuses))}")
    return {"ms": times[1] - times[0], "rows": len(statuses), "t0": times[0],
            "run": int(page.url.rsplit("/", 1)[1]), "steps": steps}


def run_timeline(run_id: int, t0_ms: float, final_ms: float) -> dict[str, float]:
    """When (ms after the click) the run was stored, its first session started, its last
    session ended, the run was marked finished (worker clocks) and the page showed every
    row final (the browser's)."""
    import sqlalchemy as sa

    from webapp.extensions import db
    from webapp.models import MinkeSession, Run

    run = db.session.get(Run, run_id)
    first, last = db.session.execute(
        sa.select(sa.func.min(MinkeSession.start_time), sa.func.max(MinkeSession.end_time))
        .where(MinkeSession.run_id == run_id)).one()
    at = {"stored": run.created_at, "first start": first, "last end": last,
          "run finished": run.finished_at}
    db.session.rollback()
    timeline = {name: common.as_utc_timestamp(value) * 1000 - t0_ms
                for name, value in at.items() if value is not None}
    timeline["page final"] = final_ms
    return timeline


def run_fabric(bench: Bench, n: int, concurrency: int = 50) -> float:
    def one(address: str) -> str:
        connection = fabric_connection(bench.sshd, address)
        try:
            return connection.run(FANOUT_COMMAND, hide=True, in_stream=False).stdout
        finally:
            connection.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        outputs = list(pool.map(one, bench.addresses[:n]))
    if any("load average" not in out for out in outputs):
        raise BenchError("fabric: an output lacks 'load average'")
    return (time.perf_counter() - t0) * 1000


def storm(bench: Bench, page, rate: int, seconds: int) -> dict:
    run = bench.dispatch("EventStormSession", bench.host_ids[:1],
                         data={"rate": rate, "seconds": seconds, "delay": 1500})
    page.goto(f"/runs/{run.run_id}")
    page.evaluate("""() => { window.__bench.arrived = [];
        minkeRunPage.socket.on("events", (batch) => { const now = Date.now();
            for (const e of batch) if (e.event === "session.message") {
                window.__bench.arrived.push([e.payload.text, now]); } }); }""")
    page.wait_for_function("() => window.__bench.allFinal", timeout=(seconds + 60) * 1000)
    page.wait_for_timeout(300)  # a last catch-up answer, if any
    arrived = sorted(at - float(text.split()[2]) * 1000
                     for text, at in page.evaluate("() => window.__bench.arrived"))
    seen = page.evaluate("() => window.__bench.messages")
    in_dom = page.evaluate("""() => [...document.querySelectorAll('#results li.msg')]
        .map(li => li.textContent)""")
    latencies, ticks = [], []
    first_seen: dict[int, float] = {}
    for text, at in seen:
        _tick, number, stamp = text.split()
        first_seen.setdefault(int(number), at - float(stamp) * 1000)
    for text in in_dom:
        ticks.append(int(text.split()[1]))
    latencies = sorted(first_seen.values())
    expected = rate * seconds
    stats = page.evaluate("() => minkeRunPage.stats")
    return {
        "expected": expected, "distinct": len(set(ticks)),
        "lost": expected - len(set(ticks) & set(range(expected))),
        "duplicated": len(ticks) - len(set(ticks)),
        "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1], "catch_ups": stats["catchUps"], "batches": stats["batches"],
        "arrived_p50": statistics.median(arrived) if arrived else None,
        "arrived_p99": arrived[int(len(arrived) * 0.99) - 1] if arrived else None,
    }


def big_run(bench: Bench, n: int, proc_status: str) -> int:
    """A run of ``n`` objects stored directly: one message, one command, its output each."""
    import sqlalchemy as sa

    from webapp.extensions import db
    from webapp.models import Message, MinkeSession, OutputChunk, Run, StoredResult, utcnow

    now = utcnow()
    final = proc_status == "completed"
    run = Run(session_name="FanoutSession", object_type="Host", concurrency=50,
              finished_at=now if final else None)
    db.session.add(run)
    db.session.flush()
    ids = db.session.scalars(sa.insert(MinkeSession).returning(
        MinkeSession.id, sort_by_parameter_order=True), [
        {"run_id": run.id, "session_name": "FanoutSession", "object_type": "Host",
         "object_id": i, "object_label": f"obj{i:05d}", "proc_status": proc_status,
         "session_status": ("error" if i % 100 == 7 else "success") if final else None,
         "start_time": now if final else None, "end_time": now if final else None}
        for i in range(n)]).all()
    if final:
        db.session.execute(sa.insert(Message), [
            {"session_id": sid, "seq": 4, "level": "info", "kind": "pre",
             "payload": {"text": f"load average: 0.{sid % 100:02d}"}} for sid in ids])
        commands = db.session.scalars(sa.insert(StoredResult).returning(
            StoredResult.id, sort_by_parameter_order=True), [
            {"session_id": sid, "seq": 1, "command": FANOUT_COMMAND, "stdout": "b\n",
             "exit_code": 0, "status": "success", "stdout_bytes": 2} for sid in ids]).all()
        db.session.execute(sa.insert(OutputChunk), [
            {"command_id": cid, "stream": "stdout", "seq": 2, "data": "b\n"} for cid in commands])
    run_id = run.id
    db.session.commit()  # and no new transaction: on SQLite it would block the server
    return run_id


LIVE_OBSERVERS = """() => { window.__live = { long: [], input: [] };
    new PerformanceObserver((list) => { for (const e of list.getEntries())
        window.__live.long.push(e.duration); }).observe({ type: "longtask" });
    new PerformanceObserver((list) => { for (const e of list.getEntries())
        if (e.name === "click" || e.name === "pointerdown")
            window.__live.input.push(e.processingStart - e.startTime); })
        .observe({ type: "event", durationThreshold: 16 });
    new PerformanceObserver((list) => { for (const e of list.getEntries())
        window.__live.input.push(e.processingStart - e.startTime); })
        .observe({ type: "first-input", buffered: true }); }"""


def live_page(bench: Bench, page, n: int, rate: int) -> dict:
    """Open the run page of ``n`` queued objects, then start, message and end every session
    at ``rate`` events/s (stored, then published, in batches every 50 ms) while clicking
    the page; see the module's docstring (part 6)."""
    import threading

    import sqlalchemy as sa

    from webapp.engine import events as ev
    from webapp.extensions import db
    from webapp.models import Message, MinkeSession, utcnow

    run_id = big_run(bench, n, "initialized")
    ids = list(db.session.scalars(sa.select(MinkeSession.id).where(MinkeSession.run_id == run_id)
                                  .order_by(MinkeSession.id)))
    db.session.rollback()
    page.goto(f"/runs/{run_id}")
    page.wait_for_function("() => minkeRunPage.stats.answered >= 1", timeout=60_000)
    page.evaluate(LIVE_OBSERVERS)
    steps = [(sid, step) for sid in ids for step in range(5)]  # start, 3 messages, end
    tick = 0.05
    per_tick = max(1, int(rate * tick))
    done = threading.Event()
    published: dict = {}

    def drive() -> None:
        # its own app context: the bench's is the main thread's
        with bench.app.app_context():
            t0 = time.perf_counter()
            for start in range(0, len(steps), per_tick):
                batch, out = steps[start:start + per_tick], []
                now = utcnow()
                for sid, step in batch:
                    if step == 0:
                        db.session.execute(sa.update(MinkeSession).where(MinkeSession.id == sid)
                                           .values(proc_status="running", start_time=now))
                        out.append(ev.status_event(sid, 1, "running", None, start_time=now))
                    elif step < 4:
                        payload = {"text": f"line {step} of {sid}"}
                        db.session.execute(sa.insert(Message).values(
                            session_id=sid, seq=step + 1, level="info", kind="text",
                            payload=payload))
                        out.append(ev.message_event(sid, step + 1, "info", "text", payload))
                    else:
                        outcome = "error" if sid % 100 == 7 else "success"
                        db.session.execute(sa.update(MinkeSession).where(MinkeSession.id == sid)
                                           .values(proc_status="completed",
                                                   session_status=outcome, end_time=now))
                        out.append(ev.status_event(sid, 5, "completed", outcome, end_time=now))
                db.session.commit()
                bench.state.publisher.publish_many(run_id, out)
                wait = t0 + (start // per_tick + 1) * tick - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            published["seconds"] = time.perf_counter() - t0
            published["events"] = len(steps)
            published["end"] = time.time() * 1000
        done.set()

    driver = threading.Thread(target=drive, name="bench-live-driver")
    driver.start()
    clicks = 0
    while not done.is_set():
        page.mouse.click(5, 300)  # the page's margin: an input, nothing it acts on
        clicks += 1
        page.wait_for_timeout(250)
    driver.join()
    page.wait_for_function(f"() => document.getElementById('count-done').textContent.trim()"
                           f" === '{n}'", timeout=60_000)
    counted = page.evaluate("() => Date.now()") - published["end"]
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#run-counts [data-count]')].filter(e => !e.hidden).map(e => [e.dataset.count,
        parseInt(e.textContent)]))""")
    rows = page.evaluate("""() => [...document.querySelectorAll('#results tbody tr')]
        .map(r => r.dataset.proc)""")
    live = page.evaluate("() => window.__live")
    stats = page.evaluate("() => minkeRunPage.stats")
    errors = sum(1 for sid in ids if sid % 100 == 7)
    return {"n": n, "rate_sent": published["events"] / published["seconds"],
            "events": published["events"], "clicks": clicks, "input": sorted(live["input"]),
            "long": sorted(live["long"]), "counted_ms": counted, "shown": shown,
            "expected": {"success": n - errors, "error": errors},
            "rows": len(rows), "rows_final": sum(1 for r in rows if r == "completed"),
            "catch_ups": stats["catchUps"], "batches": stats["batches"]}


def open_page(page, url: str, ready: str | None = None) -> dict:
    page.goto(url)
    if ready:
        page.wait_for_function(ready, timeout=60_000)
    nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        return [n.responseStart, n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd,
                performance.now()]; }""")
    return {"ttfb": nav[0], "html": nav[1], "dcl": nav[2], "load": nav[3], "ready": nav[4]}


def filter_by_select(page, status: str) -> float:
    """Choose a status in the run page's filter; ms until the filtered page has loaded
    (a paged run: the server filters) or is laid out (one page: the browser filters)."""
    t0 = page.evaluate("() => Date.now()")
    paged = page.evaluate("() => document.getElementById('run').dataset.paged === '1'")
    if paged:
        with page.expect_navigation():
            page.get_by_label("Show").select_option(status)
        page.wait_for_load_state("load")
    else:
        page.get_by_label("Show").select_option(status)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                      "requestAnimationFrame(r)))")
    return page.evaluate("() => Date.now()") - t0


def main() -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts to measure (default: all of {','.join(PARTS)})")
    p.add_argument("--live-objects", type=int, default=2000,
                   help="objects of the live part's run (default 2,000; 5 events each)")
    p.add_argument("--output-lines", type=int, default=1_000_000,
                   help="lines of 100 bytes the output part's session prints (default "
                        "1,000,000 = 100 MB; 10,000,000 = 1 GB)")
    args = p.parse_args()
    parts = set(args.only.split(","))
    smoke = args.smoke
    rounds = args.rounds or (1 if smoke else 10)
    fan_n = 5 if smoke else 200
    fan_rounds = 1 if smoke else 3
    rate, seconds = (1000, 1) if smoke else (1000, 10)
    page_n = 1000 if smoke else 10_000
    big_lines = 10_000 if smoke else args.output_lines
    banner("web", args)
    from playwright.sync_api import sync_playwright

    with WebBench("web", args, fan_n) as bench, sync_playwright() as playwright:
        create_admin()
        server = start_server(bench.env(), bench.workdir / "gunicorn.log")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=server.url,
                                          viewport={"width": 1400, "height": 900})
            context.add_init_script(WATCH)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: "/login" not in url)
            try:
                results = measure(bench, page, parts, rounds=rounds, fan_n=fan_n,
                                  fan_rounds=fan_rounds, rate=rate, seconds=seconds,
                                  page_n=page_n, big_lines=big_lines)
            except Exception:
                page.screenshot(path=str(bench.workdir.parent / "minke-bench-web-failed.png"))
                print(f"   the page when it failed: {page.url}, "
                      f"{bench.workdir.parent / 'minke-bench-web-failed.png'}")
                raise
        finally:
            browser.close()
            common.stop_process(server.proc, 10)
    report(results, smoke=smoke, fan_n=fan_n, rate=rate, seconds=seconds, page_n=page_n,
           big_lines=big_lines)
    return 0


def measure(bench: Bench, page, parts: set[str], *, rounds: int, fan_n: int,
            fan_rounds: int, rate: int, seconds: int, page_n: int, big_lines: int) -> dict:
    from webapp.extensions import db
    from webapp.models import MinkeSession, StoredResult

    results: dict = {}
    worker = bench.start_worker()  # warm: connections pooled between runs
    if "click" in parts:
        click_and_watch(page, "b000", all_matching=False, timeout=30)  # opens the connection
        clicks = [click_and_watch(page, "b000", all_matching=False, timeout=30)
                  for _ in range(rounds)]
        results["click"] = [c["ms"] for c in clicks]
        results["click_steps"] = {name: median([c["steps"][name] for c in clicks])
                                  for name in clicks[0]["steps"]}
    if "storm" in parts:
        results["storm"] = storm(bench, page, rate, seconds)
    if "output" in parts:
        run = bench.dispatch("BigOutputSession", bench.host_ids[:1],
                             data={"out_lines": big_lines, "err_lines": 100})
        bench.wait_finished(run.run_id, timeout=600)
        command_id = db.session.scalar(db.select(StoredResult.id).join(MinkeSession).where(
            MinkeSession.run_id == run.run_id))
        db.session.rollback()
        results["output"] = [open_page(page, f"/runs/{run.run_id}/output/{command_id}")
                             for _ in range(3)]
        results["output_run"] = [open_page(page, f"/runs/{run.run_id}") for _ in range(3)]
    if "fanout" in parts:
        bench.stop_worker(worker)
        bench.start_worker(pool_idle_ttl=0)  # cold: every run opens its connections
        results["fanout"], results["fabric"] = [], []
        results["fanout_engine"] = []
        timelines = []
        for _ in range(fan_rounds):
            fan = click_and_watch(page, "b", all_matching=True, timeout=120)
            results["fanout"].append(fan["ms"])
            timelines.append(run_timeline(fan["run"], fan["t0"], fan["ms"]))
            results["fabric"].append(run_fabric(bench, fan_n))
            page.goto("/objects/host/")  # the engine alone, as the CLI dispatches, no page
            t0 = time.perf_counter()
            bench.wait_finished(bench.dispatch("FanoutSession", bench.host_ids[:fan_n]).run_id,
                                timeout=120)
            results["fanout_engine"].append((time.perf_counter() - t0) * 1000)
        results["fanout_timeline"] = {name: median([t[name] for t in timelines])
                                      for name in timelines[0]}
    if "page" in parts:
        finished = big_run(bench, page_n, "completed")
        results["big_page"] = [open_page(page, f"/runs/{finished}") for _ in range(3)]
        results["filter"] = [filter_by_select(page, "error"), filter_by_select(page, "")]
        results["big_filtered"] = [open_page(page, f"/runs/{finished}?status=error")
                                   for _ in range(3)]
        last = -(-page_n // 200)
        results["big_last"] = [open_page(page, f"/runs/{finished}?page={last}")
                               for _ in range(3)]
        queued = big_run(bench, page_n, "initialized")
        results["big_queued"] = [open_page(page, f"/runs/{queued}",
                                           "() => minkeRunPage.stats.answered >= 1")
                                 for _ in range(2)]
    if "live" in parts:
        results["live"] = live_page(bench, page, 200 if bench.args.smoke
                                    else bench.args.live_objects, rate)
    return results


def report(r: dict, *, smoke: bool, fan_n: int, rate: int, seconds: int, page_n: int,
           big_lines: int) -> None:
    rows, notes = [], []
    if "click" in r:
        click = median(r["click"])
        rows.append([f"click → row final, 1 host, warm ({len(r['click'])} rounds)", click,
                     "< 300", verdict(click < 300, smoke)])
        notes.append(f"click rounds (ms): {', '.join(f'{x:.0f}' for x in r['click'])}")
        steps = r["click_steps"]
        notes.append("click, median ms after it: run page's first byte "
                     f"{steps['response']:.0f}, DOMContentLoaded {steps['dcl']:.0f}, script "
                     f"{steps['script']:.0f}, joined (with the catch-up) "
                     f"{steps.get('joined', float('nan')):.0f}, row final {click:.0f}")
    if "fanout" in r:
        ratio = median(r["fanout"]) / median(r["fabric"])
        rows += [[f"click → {fan_n} rows final, cold ({len(r['fanout'])} rounds)",
                  median(r["fanout"]), "", ""],
                 [f"plain fabric, same {fan_n} hosts, 50 threads", median(r["fabric"]), "", ""],
                 ["  minke / fabric", f"{ratio:.2f}x", "≤ 1.3x", verdict(ratio <= 1.3, smoke)],
                 ["the engine alone (dispatch → run.finished)", median(r["fanout_engine"]),
                  "", ""],
                 ["  engine alone / fabric",
                  f"{median(r['fanout_engine']) / median(r['fabric']):.2f}x", "", ""]]
        notes.append("fan-out rounds minke / fabric / engine alone (ms): " + ", ".join(
            f"{a:.0f}/{b:.0f}/{c:.0f}" for a, b, c in zip(r["fanout"], r["fabric"],
                                                       r["fanout_engine"], strict=True)))
        notes.append("fan-out, median ms after the click: " + ", ".join(
            f"{name} {value:.0f}" for name, value in r["fanout_timeline"].items()))
    if "storm" in r:
        st = r["storm"]
        rows += [[f"storm {rate}/s × {seconds} s: latency p50", st["p50"], "", ""],
                 ["  latency p99", st["p99"], "< 100", verdict(st["p99"] < 100, smoke)],
                 ["  latency max", st["max"], "", ""],
                 ["  lost / duplicated", f"{st['lost']} / {st['duplicated']}", "0 / 0",
                  verdict(st["lost"] == st["duplicated"] == 0, smoke)]]
        notes.append(f"storm: {st['expected']} messages, {st['distinct']} shown, "
                     f"{st['batches']} Socket.IO batches, {st['catch_ups']} catch-up requests "
                     "(the join's included)")
        if st["arrived_p50"] is not None:
            notes.append(f"storm: worker → page's Socket.IO handler p50 {st['arrived_p50']:.0f} "
                         f"ms, p99 {st['arrived_p99']:.0f} ms (the rest: into the DOM)")
    if "big_page" in r:
        load = median([x["load"] for x in r["big_page"]])
        rows.append([f"run page of {page_n} finished objects: load event", load, "< 1000",
                     verdict(load < 1000, smoke)])
        notes.append(f"filter {page_n} objects to 'error' and back through the page's "
                     f"select: {r['filter'][0]:.0f} ms, {r['filter'][1]:.0f} ms (until the "
                     "filtered page has loaded)")
    if "output" in r:
        tail = median([x["load"] for x in r["output"]])
        rows.append([f"output view of {big_lines * 100 / 1e6:g} MB: load event (tail shown)",
                     tail, "< 500", verdict(tail < 500, smoke)])
    if "live" in r:
        lv = r["live"]
        delay = lv["input"][-1] if lv["input"] else 0.0
        longest = lv["long"][-1] if lv["long"] else 0.0
        lost = lv["shown"] != lv["expected"]
        rows += [[f"live: {lv['n']} objects, {lv['events']} events at "
                  f"{lv['rate_sent']:.0f}/s: input delay, worst of {lv['clicks']} clicks",
                  delay, "< 100", verdict(delay < 100, smoke)],
                 ["  longest task (frame blocked)", longest, "< 200",
                  verdict(longest < 200, smoke)],
                 ["  counts at the end = published", "yes" if not lost else f"no: {lv['shown']}",
                  "yes", verdict(not lost, smoke)],
                 ["  last event → page counts every object", lv["counted_ms"], "", ""]]
        notes.append(f"live: {len(lv['long'])} long tasks (> 50 ms): "
                     + ", ".join(f"{x:.0f}" for x in lv["long"][-10:]) + f"; clicks measured "
                     f"{len(lv['input'])} (Event Timing keeps those over 16 ms); rows in view "
                     f"{lv['rows']}, final {lv['rows_final']}; {lv['batches']} Socket.IO "
                     f"batches, {lv['catch_ups']} catch-ups")
    table("through the browser (ms; medians of the rounds)",
          ["measurement", "value", "target", "verdict"], rows, notes=notes)
    timings = [(f"run page, {page_n} finished objects", "big_page"),
               (f"  the same, 'error' only ({page_n // 100} rows)", "big_filtered"),
               ("  the same, its last page", "big_last"),
               (f"run page, {page_n} queued objects (ready: catch-up applied)", "big_queued"),
               (f"output view, {big_lines * 100 / 1e6:g} MB stdout", "output"),
               ("run page of that session", "output_run")]
    keys = ("ttfb", "html", "dcl", "load", "ready")
    table("page timings (ms from navigation start; median)",
          ["page", "first byte", "html", "DOMContentLoaded", "load", "ready"],
          [[name, *[median([x[k] for x in r[part]]) for k in keys]]
           for name, part in timings if part in r])


if __name__ == "__main__":
    sys.exit(main())
