"""What a CI log shows while cvops works (stderr not a terminal): a line a batch of uploads, the training's
status when it changes and again every few seconds while it does not; a terminal keeps rich's bars."""
from __future__ import annotations

import io
import time

from pipeline.progress import Progress


def test_a_log_gets_a_line_a_batch():
    stream = io.StringIO()
    ui = Progress(stream=stream, tty=False)
    with ui.bar("uploading images", 150) as bar:
        for batch in (64, 64, 22):
            bar.advance(batch)
    assert stream.getvalue().splitlines() == ["uploading images: 150 ...", "uploading images: 64/150",
                                              "uploading images: 128/150", "uploading images: 150/150"]


def test_a_download_logs_every_fifth():
    stream = io.StringIO()
    with Progress(stream=stream, tty=False).bar("downloading m.zip", 100, log_every=20) as bar:
        for _ in range(50):
            bar.advance(2)
    assert stream.getvalue().splitlines()[1:] == [f"downloading m.zip: {n}/100" for n in (20, 40, 60, 80, 100)]


def test_training_on_a_log_repeats_its_status_while_it_waits():
    stream = io.StringIO()
    ui = Progress(stream=stream, tty=False, heartbeat_s=0.05)
    with ui.spinner("training ...") as spinner:
        spinner.update("training Iteration 1: Training", "(0 s)")
        time.sleep(0.4)
        spinner.update("training Iteration 1: Training", "(1 s)")  # no change: no line of its own
    lines = stream.getvalue().splitlines()
    time.sleep(0.15)
    assert stream.getvalue().splitlines() == lines  # the heartbeat stopped with the spinner
    assert lines[:2] == ["training ...", "training Iteration 1: Training"]
    beats = lines[2:]
    assert len(beats) >= 2 and all(b.startswith("training Iteration 1: Training (") and b.endswith(" s)")
                                   for b in beats), lines


def test_quiet_says_nothing_and_a_terminal_gets_no_plain_lines():
    stream = io.StringIO()
    ui = Progress(stream=stream, tty=False, quiet=True, heartbeat_s=0.01)
    with ui.bar("uploading images", 10) as bar, ui.spinner("training ...") as spinner:
        bar.advance(10)
        spinner.update("training Iteration 1: Training")
        time.sleep(0.05)
    assert stream.getvalue() == ""
    terminal = io.StringIO()
    with Progress(stream=terminal, tty=True).bar("uploading images", 10) as bar:
        bar.advance(10)
    assert "uploading images: 10/10" not in terminal.getvalue()
