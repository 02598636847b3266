"""OpenVINO settings the tools share, in a module that imports nothing, so that scoring workers stay light.

Example:
    >>> OPENVINO_F32
    {'INFERENCE_PRECISION_HINT': 'f32'}

"""

# Full precision on the CPU plugin: its default on bf16-capable processors moves scores by about 1e-2.
OPENVINO_F32 = {"INFERENCE_PRECISION_HINT": "f32"}
