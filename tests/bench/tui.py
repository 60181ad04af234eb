"""Benchmark: the terminal dashboard's start, key latency under a build log, memory.

Not a pytest test. Run from the repository root:

    .venv/bin/python -m tests.bench.tui [--starts 5] [--lines 100000] [--presses 200]

1. Start: runs the real `home-idp tui --server http://127.0.0.1:<unused port>` in
   a pseudo-terminal (120x36, TERM=xterm-256color, HOME and XDG_CONFIG_HOME in a
   fresh temp dir, so no session: the login screen comes first) and times it
   until "Username" appears in its output. Floors, same terminal: start to exit
   of `python -c "import textual.app"`, and a bare Textual app painting a Label
   "Username". One uncounted warm-up run each (bytecode caches), then `--starts`.
2. Keys: in-process (`App.run_test`, headless: frames are composed, not written),
   a `BuildLogView` is fed `--lines` build log lines in chunks of 500 as fast
   as the event loop allows; until they have all landed in its log widget a key is
   pressed every 20 ms (at most `--presses` times, not waiting for paints),
   each press timed until the widget it changes renders the value it caused.
   Floor: `--presses` presses with no stream.
3. Memory: VmRSS once the stream has landed, against VmRSS before any app ran.

Targets (the product spec) are printed beside the figures, not asserted.
Every process started here is killed by its process group and reaped.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import fcntl
import os
import platform
import pty
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Iterable

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from home_idp.tui.widgets.build_log import BuildLogView
from tests.liveserver import free_port

__all__ = ["Counter", "LogBench", "key_latencies", "main", "pty_elapsed"]

TARGET_START_S = 1.0
TARGET_KEY_P99_MS = 100.0
TARGET_RSS_MB = 200.0
CHUNK = 500
PCTS = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
PRESS_GAP_S = 0.02  # 50 presses a second, like a held-down key
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[P^_][^\x1b]*\x1b\\|.)")
BARE_APP = (
    "from textual.app import App\nfrom textual.widgets import Label\n"
    "class Bare(App):\n    def compose(self):\n        yield Label('Username')\nBare().run()"
)


def pty_elapsed(argv: list[str], env: dict[str, str], until: bytes | None) -> float:
    """Seconds from fork until `until` shows in the output (ANSI stripped), or to exit."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its controlling terminal
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
            os.execve(argv[0], argv, env)  # noqa: S606 - a fixed argv, no shell wanted
        finally:
            os._exit(127)
    reaped, output = False, b""
    try:
        while time.perf_counter() - started < 30:
            if not select.select([fd], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # EIO: every holder of the terminal's far end has gone
                chunk = b""
            if not chunk:
                os.waitpid(pid, 0)
                reaped = True
                if until is None:
                    return time.perf_counter() - started
                text = ANSI.sub(b"", output).decode(errors="replace")
                raise SystemExit(f"{argv[0]} exited before painting:\n{text[-2000:]}")
            output += chunk
            # The whole buffer each time: an escape sequence may straddle two reads.
            if until is not None and until in ANSI.sub(b"", output):
                return time.perf_counter() - started
        raise SystemExit(f"{argv} showed no {until!r} in 30 s")
    finally:
        if not reaped:
            os.killpg(pid, signal.SIGKILL)  # pty.fork made pid its own group leader
            os.waitpid(pid, 0)
        os.close(fd)


def start_times(argv: list[str], until: bytes | None, runs: int) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="hidp-bench-tui-") as home:
        env = {**os.environ, "TERM": "xterm-256color", "HOME": home, "XDG_CONFIG_HOME": home}
        pty_elapsed(argv, env, until)  # warm-up: compiles bytecode, fills the page cache
        return sorted(pty_elapsed(argv, env, until) for _ in range(runs))


class Counter(Widget, can_focus=True):
    """Shows how often `j` was pressed; notes when each new value is first rendered."""

    DEFAULT_CSS = "Counter { width: 30; height: 1; }"  # fixed: no render() for layout
    BINDINGS = [Binding("j", "bump")]
    count: reactive[int] = reactive(0)

    def __init__(self) -> None:
        super().__init__(id="counter")
        self.painted: dict[int, float] = {}
        self.rendered = asyncio.Event()

    def action_bump(self) -> None:
        self.count += 1

    def render(self) -> str:
        # Called by the compositor as it builds the screen update, i.e. the paint.
        self.painted.setdefault(self.count, time.perf_counter())
        self.rendered.set()
        return f"key presses: {self.count}"


class LogBench(App[None]):
    AUTO_FOCUS = "#counter"

    def compose(self) -> ComposeResult:
        yield Counter()
        yield BuildLogView(id="build-log")


def log_line(number: int) -> str:
    step = number * 7 // 100_000 + 1
    unit = f"src/module_{number % 97:02d}.c"
    return f"[build] STEP {step}/7: RUN make -j2 … cc -O2 -Wall -c {unit} -o {unit[:-2]}.o  line {number}"


async def key_latencies(lines: int, presses: int) -> tuple[list[float], tuple[float, float], int]:
    """Press latencies (ms), when all lines were appended and had landed (s), RSS (kB)."""
    app = LogBench()
    async with app.run_test(size=(120, 36)) as pilot:
        counter, view = app.query_one(Counter), app.query_one(BuildLogView)
        driver = app._driver
        assert driver is not None
        for _ in range(5):  # warm-up: the first paint and binding lookups
            await pilot.press("j")
        await pilot.pause(0.1)
        landed: float | None = None
        appended = 0.0
        log, write_lines = view.log_widget, view.log_widget.write_lines

        def timed_write_lines(batch: Iterable[str]) -> None:
            # The view's flush writes here: note the moment the last line lands.
            nonlocal landed
            write_lines(batch)
            if landed is None and log.line_count >= lines:
                landed = time.perf_counter() - started

        log.write_lines = timed_write_lines  # type: ignore[method-assign,assignment]
        started = time.perf_counter()

        async def produce() -> None:
            nonlocal appended
            for start in range(0, lines, CHUNK):
                for number in range(start, min(start + CHUNK, lines)):
                    view.append(log_line(number))
                appended = time.perf_counter() - started
                await asyncio.sleep(0)  # a chunk, then let the app run

        producer = asyncio.create_task(produce())
        # Presses go at a steady rate, as from a held-down key, whether or not the
        # last one has painted yet; under a stream only those before it lands count.
        first, sent = counter.count + 1, list[float]()
        while len(sent) < presses and not (lines and landed is not None):
            await asyncio.sleep(PRESS_GAP_S)
            sent.append(time.perf_counter())
            # What `pilot.press` does, without its waits for the process to go idle:
            # under the stream it never does, so each press would wait a second or two.
            driver.send_message(events.Key("j", "j"))
        while max(counter.painted) < first + len(sent) - 1:
            await asyncio.wait_for(counter.rendered.wait(), timeout=30)
            counter.rendered.clear()
        # Press n shows once any value >= n is painted (frames can skip values).
        values = sorted(counter.painted)
        latencies = [
            (counter.painted[values[bisect.bisect_left(values, first + n)]] - pressed) * 1000
            for n, pressed in enumerate(sent)
        ]
        await asyncio.wait_for(producer, timeout=300)
        await pilot.pause(0.2)  # the last flush
        return sorted(latencies), (appended, landed or 0.0), rss_kb()


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def pct(values: list[float], share: float) -> float:
    if not values:  # a stream so short that it landed before the first press
        return float("nan")
    return values[min(len(values) - 1, max(0, round(share * len(values)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="tests.bench.tui", description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="timed starts of each command")
    parser.add_argument("--lines", type=int, default=100_000, help="build log lines streamed")
    parser.add_argument("--presses", type=int, default=200, help="key presses per run")
    args = parser.parse_args()
    if args.starts < 1 or args.lines < CHUNK or args.presses < 10:
        parser.error(f"--starts >= 1, --lines >= {CHUNK} and --presses >= 10 please")
    bin_dir = os.path.dirname(sys.executable)
    # Other work on the machine shows in every figure here: say how busy it was.
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load}")

    tui = [os.path.join(bin_dir, "home-idp"), "tui", "--server", f"http://127.0.0.1:{free_port()}"]
    start = start_times(tui, b"Username", args.starts)
    imports = start_times([sys.executable, "-c", "import textual.app"], None, args.starts)
    bare = start_times([sys.executable, "-c", BARE_APP], b"Username", args.starts)

    rss_before = rss_kb()
    idle, _, _ = asyncio.run(key_latencies(0, args.presses))
    busy, landed, rss_after = asyncio.run(key_latencies(args.lines, args.presses))

    def ms(values: list[float]) -> str:
        return "  ".join(f"{name} {pct(values, q):6.1f}" for name, q in PCTS)

    med, p99, mb = statistics.median, pct(busy, 0.99), 1024
    rows = [
        ("start to login painted", f"{med(start):.2f} s", f"< {TARGET_START_S:.0f} s", ""),
        ("  min / max", f"{start[0]:.2f} / {start[-1]:.2f} s", "", ""),
        ("  floor: import textual.app", f"{med(imports):.2f} s", "", med(start) / med(imports)),
        ("  floor: bare Textual app", f"{med(bare):.2f} s", "", med(start) / med(bare)),
        ("key p99 under the stream", f"{p99:.1f} ms", f"< {TARGET_KEY_P99_MS:.0f} ms", ""),
        ("  floor: key p99, no stream", f"{pct(idle, 0.99):.1f} ms", "", p99 / pct(idle, 0.99)),
        ("  presses timed mid-stream", f"{len(busy)}", "", ""),
        ("stream appended / landed", f"{landed[0]:.2f} / {landed[1]:.2f} s", "", ""),
        ("RSS after the stream", f"{rss_after / mb:.0f} MB", f"< {TARGET_RSS_MB:.0f} MB", ""),
        ("  floor: RSS before any app", f"{rss_before / mb:.0f} MB", "", ""),
        ("  difference", f"{(rss_after - rss_before) / mb:+.0f} MB", "", ""),
    ]
    print(f"\n{'measure':30} {'figure':>16}  {'target':>9}  vs floor")
    for name, figure, target, ratio in rows:
        versus = f"x{ratio:.2f}" if isinstance(ratio, float) else ratio
        print(f"{name:30} {figure:>16}  {target:>9}  {versus}")
    print(f"\nkey ms, stream ({len(busy)}):  {ms(busy)}")
    print(f"key ms, no stream ({len(idle)}): {ms(idle)}")
    print(f"load after: {', '.join(f'{value:.1f}' for value in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
