"""t2ue model pipeline: data, surrogate CLIP, T2UE generator, baselines, ONNX export."""
__version__ = "0.1.0"
