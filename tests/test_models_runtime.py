"""The ONNX runtime wrapper, manifests and the micro-batcher, on small generated models."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dyadscope.models.batcher import MicroBatcher
from dyadscope.models.manifest import Manifest, Preprocessing, read_manifest
from dyadscope.models.runtime import ModelSession, RuntimeOptions, available_providers, default_model_dir


def _scale_model(path, factor: float = 2.0):
    """y = factor * x over a dynamic batch of 4-vectors."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        "scale",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.array(factor, np.float32), "k")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_session_runs_on_cpu_and_reports_io(tmp_path):
    session = ModelSession(_scale_model(tmp_path / "scale.onnx"), RuntimeOptions(intra_op_threads=1))
    assert session.provider in available_providers()
    assert session.inputs == {"x": (("batch", 4), "tensor(float)")}
    out = session.run({"x": np.arange(8, dtype=np.float32).reshape(2, 4)})
    np.testing.assert_allclose(out["y"], np.arange(8).reshape(2, 4) * 2.0)


def test_cuda_is_skipped_when_not_wanted():
    assert "CUDAExecutionProvider" not in available_providers(use_cuda=False)
    assert available_providers(use_cuda=False)[-1] == "CPUExecutionProvider"


def test_model_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DYADSCOPE_MODEL_DIR", str(tmp_path))
    assert default_model_dir() == tmp_path
    monkeypatch.delenv("DYADSCOPE_MODEL_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_model_dir() == tmp_path / "xdg" / "dyadscope" / "models"


def test_manifest_round_trips(tmp_path):
    manifest = Manifest(
        name="m",
        contract="emonet",
        input_name="image",
        input_shape=("batch", 3, 256, 256),
        preprocessing=Preprocessing(size=(256, 256), colour="rgb", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
        outputs={"valence": "v", "arousal": "a"},
        labels=("x", "y"),
    )
    model = tmp_path / "m.onnx"
    assert manifest.write(model) == tmp_path / "m.json"
    assert read_manifest(model) == manifest


def test_batcher_gathers_requests_from_many_threads():
    seen_sizes = []

    def run(items):
        seen_sizes.append(len(items))
        return [x * 10 for x in items]

    batcher = MicroBatcher(run, max_batch=8, max_wait_ms=50, name="t")
    start = threading.Barrier(16)
    results = {}

    def caller(i):
        start.wait()
        results[i] = batcher.submit_threadsafe(i).result(timeout=5)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert results == {i: i * 10 for i in range(16)}
    assert max(seen_sizes) > 1 and max(seen_sizes) <= 8
    m = batcher.metrics
    assert m.items == 16 and m.batches == len(seen_sizes)
    assert m.mean_batch_size == pytest.approx(16 / len(seen_sizes))
    assert m.queue_depth == 0 and m.inference_ms_p95 >= 0.0


def test_batcher_serves_the_event_loop_with_a_real_model(tmp_path):
    session = ModelSession(_scale_model(tmp_path / "scale.onnx", 3.0))

    def run(items):
        return list(session.run({"x": np.stack(items)})["y"])

    batcher = MicroBatcher(run, max_batch=4, max_wait_ms=20)

    async def main():
        vectors = [np.full(4, i, np.float32) for i in range(10)]
        return await asyncio.gather(*(batcher.submit(v) for v in vectors))

    outs = asyncio.run(main())
    batcher.close()
    for i, out in enumerate(outs):
        np.testing.assert_allclose(out, np.full(4, 3.0 * i))
    assert batcher.metrics.batches < 10


def test_batcher_passes_errors_to_callers_and_keeps_going():
    def run(items):
        if any(x < 0 for x in items):
            raise ValueError("negative")
        return items

    batcher = MicroBatcher(run, max_batch=1, max_wait_ms=0)
    with pytest.raises(ValueError, match="negative"):
        batcher.submit_threadsafe(-1).result(timeout=5)
    assert batcher.submit_threadsafe(5).result(timeout=5) == 5
    batcher.close()
    assert batcher.metrics.errors == 1
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit_threadsafe(1)


def test_batcher_rejects_bad_settings():
    with pytest.raises(ValueError):
        MicroBatcher(lambda items: items, max_batch=0)
    with pytest.raises(ValueError):
        MicroBatcher(lambda items: items, max_wait_ms=-1)


def test_cuda_comes_first_when_the_build_offers_it(monkeypatch):
    # No GPU here: stand in for the GPU build's provider list (the only mock the tests use).
    import onnxruntime

    monkeypatch.setattr(
        onnxruntime,
        "get_available_providers",
        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert available_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert available_providers(use_cuda=False) == ["CPUExecutionProvider"]
