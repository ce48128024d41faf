"""A trained detector's numbers (`DetectionModel`): what it reads, its projections, its linear maps, and their
stored form. `candidates` runs it in numpy (training and held-out evaluation); `graph.py` writes the same
computation as ONNX, which is what serves predictions and exports."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from .head import Calibration, Descriptors, MapInput, Projection, decode
from .regions import REGIONS

FORMAT = "cvlocal-detector/1"


@dataclass
class DetectionModel:
    size: int  # the square input the image is squashed to
    grid: int  # anchor centres: grid x grid cells
    shapes: np.ndarray  # [S, 2] anchor (width, height), normalised
    inputs: tuple[MapInput, ...]
    projections: list[Projection]
    class_weights: np.ndarray  # [D, K+1]: background, then each tag
    class_bias: np.ndarray  # [A, K+1]: per anchor (its geometry's share folded in)
    box_weights: np.ndarray  # [D, 4]
    box_bias: np.ndarray  # [A, 4]
    calibration: Calibration
    _descriptors: Descriptors | None = field(default=None, repr=False, compare=False)

    @property
    def tag_count(self) -> int:
        return self.class_weights.shape[1] - 1

    @property
    def backbones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.backbone for i in self.inputs))

    def taps(self, backbone: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.tap for i in self.inputs if i.backbone == backbone))

    def map_sizes(self) -> list[tuple[int, int]]:
        from .features import STRIDES

        return [(self.size // STRIDES[i.tap],) * 2 for i in self.inputs]

    @property
    def descriptors(self) -> Descriptors:
        if self._descriptors is None:
            self._descriptors = Descriptors(self.grid, self.shapes, self.map_sizes())
        return self._descriptors

    @property
    def anchors(self) -> np.ndarray:
        return self.descriptors.anchors

    def project(self, maps: dict[tuple[str, str], np.ndarray]) -> list[np.ndarray]:
        """{(backbone, tap): [N,C,H,W]} -> each input's projected maps."""
        return [p.apply(maps[(i.backbone, i.tap)]) for i, p in zip(self.inputs, self.projections)]

    def scores(self, descriptors: np.ndarray) -> np.ndarray:
        """[N, A, D] -> [N, A, K] tag scores (before calibration)."""
        return (descriptors @ self.class_weights + self.class_bias)[..., 1:]

    def output_weights(self) -> np.ndarray:
        """[D, K+1+4]: the class scores' and the box corrections' weights side by side."""
        return np.hstack([self.class_weights, self.box_weights])

    def region_maps(self, projected: list[np.ndarray]) -> list[np.ndarray]:
        """Each input's projected maps [N,P,H,W] -> [N, R, K+5, H, W]: per region, the outputs' weights applied
        to every cell (what `Pooling.pool_linear` pools)."""
        weights, out, start = self.output_weights(), [], 0
        for maps, i in zip(projected, self.inputs):
            size = len(REGIONS) * i.components
            w = weights[start:start + size].reshape(len(REGIONS), i.components, -1).astype(np.float32)
            out.append(np.einsum("nphw,rpo->nrohw", maps, w, optimize=True))
            start += size
        return out

    def raw_outputs(self, projected: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Projected maps -> (tag scores [N, A, K] before calibration, box corrections [N, A, 4])."""
        total = sum(p.pool_linear(m) for p, m in zip(self.descriptors.poolings, self.region_maps(projected)))
        total = total + np.hstack([self.class_bias, self.box_bias])
        k = self.tag_count
        return total[..., 1:k + 1], total[..., k + 1:]

    def candidates(self, projected: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Projected maps -> (boxes [N, A, 4] x1y1x2y2 in [0, 1], tag probabilities [N, A, K])."""
        scores, corrections = self.raw_outputs(projected)
        return decode(self.anchors, corrections), self.calibration(scores)

    def to_bytes(self) -> bytes:
        meta = {"format": FORMAT, "size": self.size, "grid": self.grid,
                "inputs": [[i.backbone, i.tap, i.components] for i in self.inputs]}
        arrays = {"shapes": self.shapes, "class_weights": self.class_weights, "class_bias": self.class_bias,
                  "box_weights": self.box_weights, "box_bias": self.box_bias,
                  "calibration_slope": self.calibration.slope, "calibration_intercept": self.calibration.intercept}
        for n, p in enumerate(self.projections):
            arrays[f"projection{n}_mean"], arrays[f"projection{n}_basis"] = p.mean, p.basis
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(meta)), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "DetectionModel":
        try:
            stored = np.load(io.BytesIO(data), allow_pickle=False)
            meta = json.loads(str(stored["meta"]))
        except Exception as exc:  # not an npz, or not ours
            raise ValueError(f"not a stored detector: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise ValueError(f"not a stored detector (format {meta.get('format')!r}, expected {FORMAT!r})")
        with stored:
            inputs = tuple(MapInput(str(b), str(t), int(c)) for b, t, c in meta["inputs"])
            return cls(size=int(meta["size"]), grid=int(meta["grid"]), shapes=stored["shapes"], inputs=inputs,
                       projections=[Projection(stored[f"projection{n}_mean"], stored[f"projection{n}_basis"])
                                    for n in range(len(inputs))],
                       class_weights=stored["class_weights"], class_bias=stored["class_bias"],
                       box_weights=stored["box_weights"], box_bias=stored["box_bias"],
                       calibration=Calibration(stored["calibration_slope"], stored["calibration_intercept"]))
