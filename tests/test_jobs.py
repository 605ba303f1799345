"""core/jobs.py on fake jobs (short Python children): at most N at once, the longest first, a freed
slot taken at once, a failing job reported while the others finish, whole prefixed lines, Ctrl-C."""

import os
import signal
import subprocess
import sys
import textwrap
import time


from genlab.core import jobs, threads

STAMP = (
    "import sys, time; print('begin', time.monotonic(), flush=True); time.sleep(float(sys.argv[1])); "
    "print('end', time.monotonic(), flush=True); sys.exit(int(sys.argv[2]))"
)


def fake(name, seconds, code=0, cost=None):
    return jobs.Job(
        name, [sys.executable, "-c", STAMP, str(seconds), str(code)], cost=seconds if cost is None else cost
    )


def spans(lines, name):
    begin = next(float(l.split()[-1]) for l in lines if l.startswith(f"[{name}] begin "))
    end = next(float(l.split()[-1]) for l in lines if l.startswith(f"[{name}] end "))
    return begin, end


def test_at_most_n_at_once_longest_first_and_a_freed_slot_is_taken_at_once():
    lines = []
    work = [fake("short", 0.3), fake("long", 1.2), fake("middle", 0.6), fake("tiny", 0.1)]
    results = jobs.run_jobs(work, slots=2, say=lines.append)
    assert [r.name for r in results] == ["short", "long", "middle", "tiny"] and all(r.ok for r in results)
    started = [l.split("]")[0][1:] for l in lines if l.endswith("] started")]
    assert started == ["long", "middle", "short", "tiny"]  # the costliest first
    s = {name: spans(lines, name) for name in ("short", "long", "middle", "tiny")}
    for t in (s["long"][0] + 0.05, s["middle"][1] - 0.05, s["short"][0] + 0.05):  # never more than 2 at once
        assert sum(b <= t <= e for b, e in s.values()) <= 2
    assert s["short"][0] - s["middle"][1] < 0.4  # middle's slot went to short at once (poll 0.05 s + a start)
    assert s["long"][0] < s["middle"][0] + 0.4 and s["tiny"][0] >= s["middle"][1]
    assert all(r.wall_seconds > 0 and r.cpu_seconds > 0 for r in results)


def test_a_failing_job_is_reported_and_the_others_finish():
    failed = jobs.Job(
        "bad", [sys.executable, "-c", "print('genlab: error: no such data spec nope'); raise SystemExit(2)"]
    )
    done = []
    results = jobs.run_jobs([fake("a", 0.2), failed, fake("b", 0.3)], slots=2, say=lambda _: None, on_done=done.append)
    by = {r.name: r for r in results}
    assert by["a"].ok and by["b"].ok and by["bad"].returncode == 2
    assert by["bad"].why() == "genlab: error: no such data spec nope"
    assert sorted(r.name for r in done) == ["a", "b", "bad"]


def test_lines_are_whole_and_prefixed_even_when_children_write_at_once():
    chatty = "import sys\nfor i in range(300):\n    print(sys.argv[1] * 40, i, flush=True)\n"
    lines = []
    jobs.run_jobs([jobs.Job(n, [sys.executable, "-c", chatty, n]) for n in "xyz"], slots=3, say=lines.append)
    body = [l for l in lines if not l.endswith("] started")]
    assert len(body) == 900
    for line in body:
        name = line[1]
        assert line == f"[{name}] {name * 40} {line.split()[-1]}"


def test_each_child_is_told_how_many_share_the_cores():
    show = f"import os; print(os.environ['{threads.SHARING}'])"
    lines = []
    jobs.run_jobs([jobs.Job(n, [sys.executable, "-c", show]) for n in "ab"], slots=2, say=lines.append)
    assert sorted(l for l in lines if not l.endswith("started")) == ["[a] 2", "[b] 2"]


def test_ctrl_c_stops_every_child_within_seconds(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from genlab.core import jobs
        work = [jobs.Job(n, [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]) for n in "ab"]
        try:
            jobs.run_jobs(work, slots=2, say=lambda l: print(l, flush=True))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
    """)
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # as at a terminal,
    # even under `pytest &` in a script, which ignores SIGINT in every process it starts
    seen = []
    while sum(l.endswith("] up") for l in seen) < 2:
        seen.append(parent.stdout.readline().strip())
    started = time.monotonic()
    parent.send_signal(signal.SIGINT)
    out, _ = parent.communicate(timeout=jobs.GRACE_SECONDS + 10)
    assert parent.returncode == 130 and "interrupted" in out
    assert time.monotonic() - started < jobs.GRACE_SECONDS + 5
    children = subprocess.run(["pgrep", "-f", "time.sleep(60)"], capture_output=True, text=True).stdout.split()
    assert [p for p in children if int(p) != os.getpid()] == []


def test_on_start_and_tick_let_a_caller_follow_the_jobs():
    started, ticks = [], []
    jobs.run_jobs(
        [fake("a", 0.1), fake("b", 0.3)],
        slots=1,
        say=lambda _: None,
        on_start=lambda job: started.append(job.name),
        tick=lambda: ticks.append(time.monotonic()),
    )
    assert started == ["b", "a"] and len(ticks) >= 3  # the costliest first; ticks while they run
