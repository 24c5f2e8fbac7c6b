"""What hls4ml lacks for EfficientViT, registered through its extension API.

For each program layer kind (program_onnx.OP_TYPES): an hls4ml layer class (``register_layer``), an ONNX
handler for its vitflow-domain node (``register_onnx_layer_handler``), and, on the backend, a config and a
function-call template (``register_template``) plus the sources (``register_source``): the engines of
hls_templates/vitflow, the bridge hls_templates/hls4ml/vitflow_hls4ml.h and the generated descriptor layout.

Every layer holds three weight variables, on chip: ``d`` (the layer's descriptor words), ``w`` (its weight
stream's bytes: weights, parameters and tables in the order its engine reads them) and ``s`` (the slots of
its tensors' channels in the word layout); its output variable is an integer type of the program tensor's
width and signedness.
"""

import tempfile
from pathlib import Path

import numpy as np
import onnx

from flow.hls.layout import layout_header
from flow.hls.project import HwConfig, templates_dir

from .program_onnx import OP_TYPES

# hls4ml class name -> (engine struct in vitflow_hls4ml.h, number of inputs)
ENGINES = {"VitflowConv": ("Conv", 1), "VitflowLinear": ("Conv", 1), "VitflowDwConv": ("DwConv", 1),
           "VitflowHardswish": ("Lut", 1), "VitflowRelu": ("Lut", 1), "VitflowGap": ("Gap", 1),
           "VitflowLayerNorm": ("LayerNorm", 1), "VitflowLinearAttention": ("LinearAttention", 1),
           "VitflowAdd": ("Add", 2), "VitflowConcat": ("Concat", 2)}
assert set(ENGINES) == set(OP_TYPES.values())
HW_FIELDS = list(HwConfig.__dataclass_fields__)
BRIDGE = "vitflow_hls4ml.h"
PORT_ELEMENTS = 16  # codes per word of the hls4ml top's input and output ports


def _layer_classes():
    from hls4ml.model.layers import Layer
    from hls4ml.model.types import IntegerPrecisionType

    class VitflowLayer(Layer):
        """A vitflow program layer: its descriptor, weight stream and channel slots on chip, run by its engine."""

        def initialize(self):
            self.add_output_variable([self.get_attr("n_out")], precision=IntegerPrecisionType(
                width=self.get_attr("out_bits"), signed=bool(self.get_attr("out_signed"))))
            for name, data, width in (("d", self.get_attr("desc_data"), 32), ("w", self.get_attr("weights_data"), 8),
                                      ("s", self.get_attr("slots_data"), 32)):
                self.add_weights_variable(name=name, var_name=name + "{index}", data=data,
                                          precision=IntegerPrecisionType(width=width, signed=True))

    return {name: type(name, (VitflowLayer,), {"__doc__": f"vitflow {name[7:]} layer ({engine} engine)"})
            for name, (engine, _) in ENGINES.items()}


def _handler(class_name):
    def parse(node, input_names, input_shapes, graph):
        a = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
        n_in = list(a["n_in"]) + [1] * (2 - len(a["n_in"]))
        layer = {"class_name": class_name, "name": node.name, "inputs": input_names, "outputs": list(node.output),
                 "n_in0": n_in[0], "n_in1": n_in[1], "n_out": a["n_out"], "out_bits": a["out_bits"],
                 "out_signed": a["out_signed"], "desc_data": np.asarray(a["desc"], dtype=np.int64),
                 "weights_data": onnx.numpy_helper.to_array(a["weights"]).astype(np.int64),
                 "slots_data": onnx.numpy_helper.to_array(a["slots"]).astype(np.int64), "n_words": a["n_words"]}
        layer["n_wgt"], layer["n_slots"] = layer["weights_data"].size, layer["slots_data"].size
        layer.update({k: a[k] for k in GEOMETRY})
        layer["sgn_out"] = "true" if a["out_signed"] else "false"
        layer.update(zip(HW_FIELDS, a["hw"]))
        layer["act_words"] = a["act_words"]  # the layer's own memory, not the program's
        return layer
    return parse


GEOMETRY = [f"{k}_{r}" for r in ("in0", "in1", "out") for k in ("c", "p", "cw", "eb", "off")]
_CONFIG = "struct config{index} {{\n" + "".join(
    f"    static const int {f} = {{{f}}};\n"
    for f in ["n_in0", "n_in1", "n_out", "n_wgt", "n_words", *GEOMETRY, *HW_FIELDS]
) + "    static const bool sgn_out = {sgn_out};\n}};\n"


def _templates(classes):
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate

    layer_classes = tuple(classes.values())

    class VitflowConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(layer_classes)
            self.template = _CONFIG

        def format(self, node):
            return self.template.format(**self._default_config_params(node))

    class VitflowFunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(layer_classes, include_header=[f"nnet_utils/{BRIDGE}"])

        def format(self, node):
            engine, arity = ENGINES[node.class_name]
            p = self._default_function_params(node)
            w = {k: node.get_weights(k) for k in "dws"}
            ins = [node.get_input_variable(name) for name in node.inputs]
            types = ", ".join([v.type.name for v in ins] + [p["output_t"]] + [w[k].type.name for k in "dws"])
            args = ", ".join([v.name for v in ins] + [p["output"]] + [w[k].name for k in "dws"])
            fn = "unary" if arity == 1 else "binary"
            return f"vitflow_hls4ml::{fn}<vitflow_hls4ml::{engine}, {types}, {p['config']}>({args});"

    return VitflowConfigTemplate, VitflowFunctionTemplate


def _arrays_in_memory_pass(classes):
    from hls4ml.model.layers import Input as InputLayer
    from hls4ml.model.optimizer import OptimizerPass

    ours = tuple(classes.values())

    class VitflowArraysInMemory(OptimizerPass):
        """io_parallel partitions every array into registers; our engines index theirs in loops, so our
        layers' outputs stay arrays (BRAM), and the network's input and output ports are reshaped to
        PORT_ELEMENTS codes per word instead of one register per code."""

        def match(self, node):
            if not isinstance(node, ours + (InputLayer,)):
                return False
            if isinstance(node, InputLayer) and not any(isinstance(n, ours) for n in node.model.get_layers()):
                return False
            return any(v.pragma != self._pragma(node, name, v) for name, v in node.variables.items())

        @staticmethod
        def _pragma(node, name, var):
            port = isinstance(node, InputLayer) or name in node.model.outputs
            if not port:
                return None
            return ("reshape", "cyclic", PORT_ELEMENTS) if var.size() > PORT_ELEMENTS else "partition"

        def transform(self, model, node):
            for name, var in node.variables.items():
                var.pragma = self._pragma(node, name, var)
            return False

    return VitflowArraysInMemory


_registered = {"layers": False, "backends": set()}
_LAYOUT_DIR = Path(tempfile.gettempdir()) / "vitflow_hls4ml_sources"


def register(backend_name: str = "Vitis"):
    """Register the vitflow layers with hls4ml (once) and their templates and sources with the backend."""
    import hls4ml

    if not _registered["layers"]:
        classes = _layer_classes()
        for name, cls in classes.items():
            hls4ml.model.layers.register_layer(name, cls)
            hls4ml.converters.register_onnx_layer_handler(name, _handler(name))
        _registered["layers"] = classes
    classes = _registered["layers"]
    if backend_name not in _registered["backends"]:
        backend = hls4ml.backends.get_backend(backend_name)
        for template in _templates(classes):
            backend.register_template(template)
        backend.register_pass("vitflow_arrays_in_memory", _arrays_in_memory_pass(classes), flow="vivado:specific_types")
        _LAYOUT_DIR.mkdir(parents=True, exist_ok=True)
        layout = _LAYOUT_DIR / "vitflow_layout.h"
        layout.write_text(layout_header())
        sources = sorted((templates_dir() / "vitflow").glob("*.h")) + [templates_dir() / "hls4ml" / BRIDGE, layout]
        for src in sources:
            backend.register_source(src.resolve())
        _registered["backends"].add(backend_name)
    return classes
