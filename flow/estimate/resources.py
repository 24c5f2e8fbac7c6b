"""Resource model of the accelerator for a parallelism (flow.hls.project.HwConfig), unit by unit.

DSP48: one per multiplier of the MAC arrays (the templates multiply int8 weights by int16 activation
codes, so no two products share a DSP), four per requantization unit (64 x 32-bit product).
BRAM18: one per conv PE row per 18 Kb of its weight buffer; the AXI master ports' buffers; the element
unit's per-channel table row buffer. Depthwise
filters and the attention's kv registers are in LUTs/FFs.
LUT/FF: per-unit figures typical of Vitis HLS results for such units (a MAC with its accumulator, a
requantizer, a 64-bit pipelined divider, an AXI master, control); an estimate to +-30%, not a netlist.
"""

import math

from flow.hls.layout import LUT_ROW_MAX

DSP_PER_REQUANT = 4
LUT = {"mac": 55, "requant": 320, "divider": 4500, "isqrt": 600, "axi_port": 1800, "control": 4000, "lut_lane": 40}
FF = {"mac": 70, "requant": 400, "divider": 6000, "isqrt": 700, "axi_port": 2500, "control": 5000, "lut_lane": 50}
AXI_PORTS = 4
BRAM18_PER_AXI_PORT = 2
BRAM18_BITS = 18 * 1024


def units(cfg) -> dict:
    return {
        "mac": cfg.pe_rows * cfg.pe_cols + cfg.dw_lanes + 2 * cfg.att_rows * (cfg.att_d_max + 1) + cfg.elt_lanes,
        "requant": cfg.pe_rows + cfg.dw_lanes + 2 * cfg.elt_lanes + 6 + (cfg.att_rows - 1),  # + att outputs
        "divider": cfg.elt_lanes + 1 + cfg.att_divider,  # layernorm lanes, gap, attention (unless shift-only)
        "isqrt": 1,
        "axi_port": AXI_PORTS,
        "control": 1,
        "lut_lane": 3 * cfg.elt_lanes + 2,
    }


def estimate_resources(cfg) -> dict:
    u = units(cfg)
    dsp = u["mac"] + DSP_PER_REQUANT * u["requant"]
    bram = cfg.pe_rows * math.ceil(cfg.wbuf_depth * 8 / BRAM18_BITS) + AXI_PORTS * BRAM18_PER_AXI_PORT
    # the per-channel table row buffer (int16 codes), a dual-port copy per two lookup lanes
    bram += math.ceil(cfg.elt_lanes / 2) * math.ceil(LUT_ROW_MAX * 16 / BRAM18_BITS)
    lut = sum(LUT[k] * n for k, n in u.items())
    ff = sum(FF[k] * n for k, n in u.items())
    return {"dsp": dsp, "bram18": bram, "lut": lut, "ff": ff, "uram": 0}
