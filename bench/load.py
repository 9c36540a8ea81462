"""Load from a separate process: wrk (C, event-driven) with Lua request scripts.

Each run has a fixed connection count and duration; wrk reports requests, errors and
its latency histogram, read here through a ``done()`` hook that prints one JSON line.
CPU is sampled from /proc for every process group named by the caller (the server's
processes, Postgres, wrk itself) over the same interval, because on two cores the load
tool, the server and the database share the CPU.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# done() runs once after the run, with every thread's counters reachable.
_DONE = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + (t:get("failed") or 0) end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"failed":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, failed))
end
"""


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def rotating_posts(path: str, bodies: Sequence[bytes], headers: Mapping[str, str]) -> str:
    """A script POSTing the bodies in turn (each thread starts at its own offset)."""
    table = ",\n".join(_lua_string(b.decode()) for b in bodies)
    header_lines = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()
    )
    return f"""
wrk.method = "POST"
{header_lines}
local bodies = {{ {table} }}
local n = 0
function init(args) n = math.random(#bodies) end
function request()
  n = n % #bodies + 1
  return wrk.format(nil, {_lua_string(path)}, nil, bodies[n])
end
{_DONE}"""


def mixed_session(
    path: str,
    reads: Sequence[bytes],
    edits: Sequence[tuple[str, str, int]],
    headers: Mapping[str, str],
    *,
    write_share: float,
    edit_template: str,
) -> str:
    """Reads of any map, and edits of each thread's own map with ``expectedVersion``.

    Run with one connection per thread: a thread then has one request in flight, so
    ``response()`` answers the thread's last ``request()`` and the version it tracks
    is exact; a conflict would show as ``failed``. ``edits`` holds, per thread, the
    touchpoint to rename, a label, and the map's starting version; ``edit_template``
    is the JSON body with ``%s`` for touchpoint id, new name and version.
    """
    read_table = ",\n".join(_lua_string(b.decode()) for b in reads)
    edit_table = ",\n".join(
        f"{{ {_lua_string(tp)}, {_lua_string(label)}, {version} }}" for tp, label, version in edits
    )
    header_lines = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()
    )
    return f"""
wrk.method = "POST"
{header_lines}
local reads = {{ {read_table} }}
local edits = {{ {edit_table} }}
local template = {_lua_string(edit_template)}
local mine, version, editing, edits_made = nil, 0, false, 0
failed = 0
function init(args)
  mine = edits[(id - 1) % #edits + 1]
  version = mine[3]
  math.randomseed(id * 7919)
end
function request()
  if math.random() < {write_share} then
    editing = true
    edits_made = edits_made + 1
    local name = mine[2] .. " " .. edits_made
    return wrk.format(nil, {_lua_string(path)}, nil,
      string.format(template, mine[1], name, version))
  end
  editing = false
  return wrk.format(nil, {_lua_string(path)}, nil, reads[math.random(#reads)])
end
function response(status, headers, body)
  if editing then
    local v = string.match(body, '"version":(%d+)')
    if v and not string.find(body, '"code"', 1, true) then
      version = tonumber(v)
    else
      -- Counted; then, as a client would, take the version the conflict names.
      failed = failed + 1
      local current = string.match(body, "at version (%d+)")
      if current then version = tonumber(current) end
    end
  elseif string.find(body, '"errors"', 1, true) then
    failed = failed + 1
  end
end
{_DONE}"""


@dataclass(frozen=True)
class Run:
    """One wrk run: throughput, latency percentiles (ms), errors, CPU seconds per group."""

    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu: dict[str, float] = field(default_factory=dict)

    def cpu_share(self, group: str) -> float:
        """That group's CPU over the run, in cores (1.0 = one core busy throughout)."""
        return self.cpu.get(group, 0.0) / self.seconds if self.seconds else 0.0


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of these processes so far (vanished ones count as 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _per_pid(pids: Iterable[int]) -> dict[int, float]:
    return {pid: cpu_seconds([pid]) for pid in pids}


def pids_named(*names: str) -> list[int]:
    """Processes whose command name is one of ``names`` (e.g. every postgres backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def descendants(root: int) -> list[int]:
    """A process and everything below it (uvicorn's or cluster's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is needed for the load: apt-get install -y wrk")
    return wrk


def wrk(
    url: str,
    script: str,
    *,
    connections: int,
    seconds: float,
    threads: int,
    groups: Mapping[str, Callable[[], list[int]]],
) -> Run:
    """Run wrk once; ``groups`` name the processes whose CPU is recorded over the run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        before_each = {name: _per_pid(find()) for name, find in groups.items()}
        command = [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            script_path,
            url,
        ]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
        out, _ = process.communicate()
        # Processes that exited during the run (Postgres backends) are lost; new ones
        # count from zero: an undercount at worst, never a negative figure.
        after_each = {name: _per_pid(find()) for name, find in groups.items()}
        before = dict.fromkeys(groups, 0.0)
        after = {
            name: sum(t - before_each[name].get(p, 0.0) for p, t in after_each[name].items())
            for name in groups
        }
        # wrk has exited and been waited for: its CPU is in the children's account.
        waited = resource.getrusage(resource.RUSAGE_CHILDREN)
        after["wrk"] = waited.ru_utime + waited.ru_stime
        before["wrk"] = children.ru_utime + children.ru_stime
    finally:
        os.unlink(script_path)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {out[-2000:]}")
    line = next((s for s in out.splitlines() if s.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-2000:]}")
    report: dict[str, Any] = json.loads(line)
    cpu = {name: after[name] - before[name] for name in after}
    seconds = report["duration_us"] / 1e6
    return Run(
        requests=report["requests"],
        seconds=seconds,
        per_second=report["requests"] / seconds,
        p50_ms=report["p50_us"] / 1000,
        p95_ms=report["p95_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["status_errors"] + report["socket_errors"] + report["failed"],
        cpu=cpu,
    )


def median_run(runs: Sequence[Run]) -> Run:
    """The median of each figure over repeated runs (CPU too)."""
    return Run(
        requests=int(statistics.median(r.requests for r in runs)),
        seconds=statistics.median(r.seconds for r in runs),
        per_second=statistics.median(r.per_second for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p95_ms=statistics.median(r.p95_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        cpu={k: statistics.median(r.cpu.get(k, 0.0) for r in runs) for k in runs[0].cpu},
    )
