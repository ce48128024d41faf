"""onnxruntime sessions for the tests: the same graph and the same numbers as a default session, without its
spinning threads.

A default session's intra-op threads spin while they wait for work. The suite runs several workers and services
on two cores, where measured under that load a default session spent about 1.9x the CPU of one that does not
spin, for the same answers (the spinning only burns time the other processes needed)."""
from __future__ import annotations

import onnxruntime


def session(model: bytes | str) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
