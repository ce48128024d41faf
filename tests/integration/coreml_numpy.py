"""A Core ML neural-network model (`.mlmodel` spec, read with coremltools) run layer by layer in NumPy.

Core ML itself runs only on Apple's systems, so on Linux this is how an exported `.mlmodel` is checked by
number: every layer the spec holds is computed from the spec's own parameters and weights (not from the ONNX
graph it was written from), with the image preprocessing the spec declares. Only the layer types exported
classifiers use are implemented; any other raises, so a spec this cannot read fails the test instead of
passing it. Slow (a few seconds a photo), so the tests run it on a handful of photos.
"""
from __future__ import annotations

import numpy as np


def run(spec, image_rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Every blob of the network for one [H, W, 3] uint8 RGB image already at the input's size."""
    net = spec.neuralNetworkClassifier
    description = spec.description.input[0]
    blobs = {description.name: _preprocess(net, description, image_rgb)}
    for layer in net.layers:
        kind = layer.WhichOneof("layer")
        if kind not in _LAYERS:
            raise NotImplementedError(f"layer {layer.name}: {kind} is not implemented here")
        outputs = _LAYERS[kind](getattr(layer, kind), [blobs[i] for i in layer.input])
        blobs[layer.output[0]] = outputs
    return blobs


def _preprocess(net, description, rgb: np.ndarray) -> np.ndarray:
    image_type = description.type.imageType
    assert image_type.ColorSpace.Name(image_type.colorSpace) == "RGB", "an RGB image input"
    x = rgb.astype(np.float32).transpose(2, 0, 1)[None]  # [1, 3, H, W]
    for p in net.preprocessing:
        if p.featureName == description.name and p.WhichOneof("preprocessor") == "scaler":
            s = p.scaler
            x = x * s.channelScale + np.array([s.redBias, s.greenBias, s.blueBias], np.float32)[None, :, None, None]
    return x


def _weights(w, shape) -> np.ndarray:
    return np.asarray(w.floatValue, np.float32).reshape(shape)


def _convolution(p, xs):
    x = xs[0]
    kh, kw = p.kernelSize
    sh, sw = p.stride
    assert list(p.dilationFactor) in ([], [1, 1]), "dilated convolution"
    groups = p.nGroups or 1
    w = _weights(p.weights, (p.outputChannels, p.kernelChannels, kh, kw))
    if p.WhichOneof("ConvolutionPaddingType") == "valid":
        amounts = p.valid.paddingAmounts.borderAmounts
        (top, bottom), (left, right) = ((a.startEdgeSize, a.endEdgeSize) for a in amounts) if amounts else ((0, 0),
                                                                                                           (0, 0))
    else:
        raise NotImplementedError("'same' padding")
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = x.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    # [N, C, kh, kw, oh, ow] windows, then a product per group
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    windows = windows[:, :, :oh, :ow]  # [N, C, oh, ow, kh, kw]
    cin, cout = c // groups, p.outputChannels // groups
    out = np.empty((n, p.outputChannels, oh, ow), np.float32)
    if groups == c and p.kernelChannels == 1:  # depthwise
        out[:] = np.einsum("nchwij,cij->nchw", windows, w[:, 0], optimize=True)
    else:
        for g in range(groups):
            out[:, g * cout:(g + 1) * cout] = np.einsum(
                "nchwij,ocij->nohw", windows[:, g * cin:(g + 1) * cin], w[g * cout:(g + 1) * cout], optimize=True)
    if p.hasBias:
        out += _weights(p.bias, (p.outputChannels,))[None, :, None, None]
    return out


def _activation(p, xs):
    kind = p.WhichOneof("NonlinearityType")
    x = xs[0]
    if kind == "linear":
        return p.linear.alpha * x + p.linear.beta
    if kind == "ReLU":
        return np.maximum(x, 0)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    raise NotImplementedError(f"activation {kind}")


def _pooling(p, xs):
    x = xs[0]
    if p.globalPooling:
        assert p.type == 1, "global average pooling"  # PoolingType.AVERAGE
        return x.mean(axis=(2, 3), keepdims=True)
    assert p.type == 1 and p.WhichOneof("PoolingPaddingType") == "valid"
    kh, kw = p.kernelSize
    sh, sw = p.stride
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return windows.mean(axis=(-2, -1))


def _unary(p, xs):
    x = p.scale * xs[0] + p.shift if (p.scale or p.shift) else xs[0]
    kind = p.Operation.Name(p.type)
    if kind == "SQRT":
        return np.sqrt(x)
    raise NotImplementedError(f"unary {kind}")


def _slice_static(p, xs):
    x = xs[0]
    index = []
    for axis in range(x.ndim):
        begin = None if p.beginMasks[axis] else p.beginIds[axis]
        end = None if p.endMasks[axis] else p.endIds[axis]
        index.append(slice(begin, end, p.strides[axis]))
    return x[tuple(index)]


def _batched_matmul(p, xs):
    if len(xs) == 1:
        # stored as NeuralNetwork.proto says: [second dimension, first dimension] (the matrix transposed)
        w = _weights(p.weights, (p.weightMatrixSecondDimension, p.weightMatrixFirstDimension)).T
        y = xs[0] @ w
        if p.hasBias:
            y = y + _weights(p.bias, (p.weightMatrixSecondDimension,))
        return y
    a, b = xs
    return (np.swapaxes(a, -1, -2) if p.transposeA else a) @ (np.swapaxes(b, -1, -2) if p.transposeB else b)


def _inner_product(p, xs):
    x = xs[0]
    flat = x.reshape(x.shape[0], -1) if x.ndim > 2 else x
    y = flat @ _weights(p.weights, (p.outputChannels, p.inputChannels)).T
    if p.hasBias:
        y = y + _weights(p.bias, (p.outputChannels,))
    return y.reshape(x.shape[:-1] + (p.outputChannels,)) if x.ndim == 2 else y


def _softmax(p, xs):
    x = xs[0]
    e = np.exp(x - x.max(axis=p.axis, keepdims=True))
    return e / e.sum(axis=p.axis, keepdims=True)


_LAYERS = {
    "convolution": _convolution,
    "clip": lambda p, xs: np.clip(xs[0], p.minVal, p.maxVal),
    "add": lambda p, xs: (xs[0] + xs[1]) if len(xs) == 2 else xs[0] + p.alpha,
    "multiply": lambda p, xs: (xs[0] * xs[1]) if len(xs) == 2 else xs[0] * p.alpha,
    "loadConstantND": lambda p, xs: _weights(p.data, tuple(p.shape)),
    "activation": _activation,
    "pooling": _pooling,
    "reshapeStatic": lambda p, xs: xs[0].reshape(tuple(p.targetShape)),
    "innerProduct": _inner_product,
    "softmaxND": _softmax,
    "copy": lambda p, xs: xs[0],
    "batchedMatmul": _batched_matmul,
    "transpose": lambda p, xs: xs[0].transpose(tuple(p.axes)),
    "concatND": lambda p, xs: np.concatenate(xs, axis=p.axis),
    "unary": _unary,
    "sliceStatic": _slice_static,
}
