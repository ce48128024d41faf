"""Candidate boxes (anchors) and what a detector reads of each: average feature-map values over regions of it.

A detector scores a fixed set of anchor boxes per image: every cell of a `grid` x `grid` lattice of centres
with every anchor shape. Average-pooled deep features say *what* is in a box but little about whether the box
fits it (a box inside a kangaroo looks like a kangaroo), so each anchor is described by nine regions: the box,
its four quadrants, and four strips just outside its sides (half its width or height deep, clipped to the
image). An object that spills into a strip, or fills only one quadrant, tells the box is wrong.

Pooling is separable: a region's mean over a map that is constant on each cell is  r' M c  with r and c the
region's fractional coverage of the map's rows and columns (normalised to sum to 1). A region's rows depend
only on its anchor's row of centres, its shape and which region it is, and its columns likewise, so all the
regions of all the anchors are two matrix products per map: M times the column weights of every (shape,
region, anchor column), then the row weights of every (shape, region, anchor row). numpy and the ONNX graph
compute exactly this, in float32.
"""
from __future__ import annotations

import numpy as np

REGIONS = ("box", "top-left", "top-right", "bottom-left", "bottom-right", "left", "right", "above", "below")
STRIP_DEPTH = 0.5  # outside strips, as a fraction of the box's width (left, right) or height (above, below)


def anchor_centres(grid: int) -> np.ndarray:
    return (np.arange(grid) + 0.5) / grid


def anchor_boxes(grid: int, shapes: np.ndarray) -> np.ndarray:
    """[grid*grid*S, 4] (x1, y1, x2, y2) normalised: cells row by row, each with every (width, height) shape."""
    shapes = np.asarray(shapes, np.float64).reshape(-1, 2)
    cy, cx = np.meshgrid(anchor_centres(grid), anchor_centres(grid), indexing="ij")
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)
    w, h = shapes[None, :, 0], shapes[None, :, 1]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).reshape(-1, 4)


def anchor_shapes(scales, aspects) -> np.ndarray:
    """[len(scales)*len(aspects), 2] (width, height): each scale is sqrt(area), each aspect width / height."""
    return np.array([(s * a ** 0.5, s / a ** 0.5) for s in scales for a in aspects], np.float64)


def region_spans(centre: np.ndarray, size: float) -> np.ndarray:
    """[len(REGIONS), len(centre), 2] the span of each region along one axis (x for widths, y for heights):
    the box, its halves as the quadrants use them, the strips before and after it, the box again for the strips
    on the other axis. Clipped to [0, 1]."""
    lo, hi = centre - size / 2, centre + size / 2
    box, first, second = (lo, hi), (lo, centre), (centre, hi)
    before, after = (lo - STRIP_DEPTH * size, lo), (hi, hi + STRIP_DEPTH * size)
    return np.clip(np.stack([np.stack(s, axis=-1) for s in (box, first, second, first, second,
                                                            before, after, box, box)]), 0.0, 1.0)


def _along_other_axis(spans_x: np.ndarray, spans_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The regions' spans along x and y (the quadrants' and strips' pairing of the two axes' spans)."""
    # REGIONS:          box  TL   TR   BL   BR   left  right  above  below
    x_of = np.array([0, 1, 2, 1, 2, 5, 6, 0, 0])
    y_of = np.array([0, 1, 1, 2, 2, 0, 0, 5, 6])
    return spans_x[x_of], spans_y[y_of]


def coverage(spans: np.ndarray, cells: int) -> np.ndarray:
    """[..., 2] spans -> [..., cells] each cell's share of the span (summing to 1; all 0 for an empty span)."""
    edges = np.arange(cells + 1) / cells
    lo, hi = spans[..., :1], spans[..., 1:]
    covered = np.clip(np.minimum(hi, edges[1:]) - np.maximum(lo, edges[:-1]), 0.0, None)
    total = covered.sum(axis=-1, keepdims=True)
    return np.where(total > 1e-12, covered / np.where(total > 1e-12, total, 1.0), 0.0)


class Pooling:
    """Every anchor's nine region means over maps of height x width cells.

    `rows` [Q, grid, height] and `columns` [Q, grid, width] are the weights of each q = (shape, region) for each
    row (column) of anchor centres; the means are  rows[q] @ M @ columns[q].T, per channel of M.
    """

    def __init__(self, grid: int, shapes: np.ndarray, height: int, width: int):
        self.grid, self.height, self.width = grid, height, width
        shapes = np.asarray(shapes, np.float64).reshape(-1, 2)
        centres = anchor_centres(grid)
        rows, columns = [], []
        for w, h in shapes:
            xs, ys = _along_other_axis(region_spans(centres, w), region_spans(centres, h))
            columns.append(coverage(xs, width))
            rows.append(coverage(ys, height))
        self.rows = np.concatenate(rows).astype(np.float32)  # [S*R, grid, height]
        self.columns = np.concatenate(columns).astype(np.float32)  # [S*R, grid, width]
        self.shapes = len(shapes)

    def pool(self, maps: np.ndarray) -> np.ndarray:
        """[N,P,H,W] -> [N, A, len(REGIONS) * P] float32: per anchor (cells row by row, then shapes), its
        regions' means, region by region."""
        n, p, h, w = maps.shape
        if (h, w) != (self.height, self.width):
            raise ValueError(f"maps of {h}x{w} cells for pooling built for {self.height}x{self.width}")
        g, s, r = self.grid, self.shapes, len(REGIONS)
        x = np.asarray(maps, np.float32)
        by_column = x @ self.columns.reshape(-1, w).T  # [N, P, H, Q*G]
        by_column = by_column.reshape(n, p, h, s * r, g).transpose(0, 3, 2, 1, 4).reshape(n, s * r, h, p * g)
        means = self.rows[None] @ by_column  # [N, Q, G(rows), P*G(columns)]
        means = means.reshape(n, s, r, g, p, g).transpose(0, 3, 5, 1, 2, 4)  # [N, Gr, Gc, S, R, P]
        return np.ascontiguousarray(means.reshape(n, g * g * s, r * p))

    def region_major(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows [R, S, G, H], columns [R, W, S*G]): the weights arranged for `pool_linear`."""
        s, r, g = self.shapes, len(REGIONS), self.grid
        rows = self.rows.reshape(s, r, g, self.height).transpose(1, 0, 2, 3)
        columns = self.columns.reshape(s, r, g, self.width).transpose(1, 3, 0, 2).reshape(r, self.width, s * g)
        return np.ascontiguousarray(rows), np.ascontiguousarray(columns)

    def pool_linear(self, maps: np.ndarray) -> np.ndarray:
        """Linear functions of the descriptors without them: [N, R, O, H, W] maps, one set of O output maps per
        region (each the descriptor weights of that region applied to the cells, a 1x1 convolution) -> [N, A, O],
        the sum over regions of each region's mean of its own maps. Equal to `pool` followed by the weights, at
        a fraction of the cost (O is a few outputs, not R * P descriptor values)."""
        n, r, o, h, w = maps.shape
        if (r, h, w) != (len(REGIONS), self.height, self.width):
            raise ValueError(f"maps of shape {maps.shape} for pooling built for {self.height}x{self.width}")
        g, s = self.grid, self.shapes
        rows, columns = self.region_major()
        x = np.asarray(maps, np.float32) @ columns[None, :, None]  # [N, R, O, H, S*G]
        x = x.reshape(n, r, o, h, s, g).transpose(0, 1, 4, 3, 2, 5).reshape(n, r, s, h, o * g)
        x = (rows[None] @ x).sum(axis=1)  # [N, S, Gr, O*Gc]
        return np.ascontiguousarray(x.reshape(n, s, g, o, g).transpose(0, 2, 4, 1, 3).reshape(n, g * g * s, o))
