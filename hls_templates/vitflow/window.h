// vitflow: the output pixels of a k x k convolution (or of a row stripe of one) and where their windows
// read in the input, walked with additions only: the strides are multiplied out once per layer, and a
// step of a tap or a pixel adds them. Shared by the conv PE array and the depthwise engine (CONV_* fields).
#pragma once
#include "vitflow_layout.h"

namespace vitflow {

struct Window {
    // the layer's geometry (words): input rows and columns, words per input and output pixel, strides
    int hin, win, cw_in, kw_n, sh, sw, pl, cw_out, wout, step_px, step_row, tap_wrap, pad_px;
    // the walk: output column, the window's top-left input row and column and its first word (padding
    // may put it outside the input), the tap, and the output word
    int ow, ih0, iw0, row_base, pix, kh, kw, tap_off, out_addr;

    // Start at the descriptor's first output row; input words from `word0` of each pixel, output word `tile`.
    void start(const int d[DESC_WORDS], int word0, int tile) {
#pragma HLS INLINE
        hin = d[CONV_H_IN];
        win = d[CONV_W_IN];
        cw_in = d[CONV_CW_IN];
        kw_n = d[CONV_KW];
        sh = d[CONV_SH];
        sw = d[CONV_SW];
        pl = d[CONV_PL];
        cw_out = d[CONV_CW_OUT];
        wout = d[CONV_W_OUT];
        const int rs = win * cw_in, row_begin = d[CONV_ROW_BEGIN];
        step_px = sw * cw_in;
        step_row = sh * rs;
        tap_wrap = rs - kw_n * cw_in;
        pad_px = pl * cw_in;
        ow = 0;
        ih0 = row_begin * sh - d[CONV_PT];
        iw0 = -pl;
        row_base = d[FIELD_IN0] + (ih0 - d[CONV_IN_ROW0]) * rs + word0;
        pix = row_base - pad_px;
        kh = 0;
        kw = 0;
        tap_off = 0;
        out_addr = d[FIELD_OUT] + (row_begin - d[CONV_OUT_ROW0]) * wout * cw_out + tile;
    }
    bool inside() const {
#pragma HLS INLINE
        const int ih = ih0 + kh, iw = iw0 + kw;
        return ih >= 0 && ih < hin && iw >= 0 && iw < win;
    }
    int addr(int word) const {
#pragma HLS INLINE
        return pix + tap_off + word;
    }
    void next_tap() {
#pragma HLS INLINE
        tap_off += cw_in;
        if (++kw == kw_n) {
            kw = 0;
            kh++;
            tap_off += tap_wrap;
        }
    }
    void first_tap() {
#pragma HLS INLINE
        kh = 0;
        kw = 0;
        tap_off = 0;
    }
    void next_pixel() {
#pragma HLS INLINE
        first_tap();
        out_addr += cw_out;
        pix += step_px;
        iw0 += sw;
        if (++ow == wout) {
            ow = 0;
            iw0 = -pl;
            ih0 += sh;
            row_base += step_row;
            pix = row_base - pad_px;
        }
    }
};

}  // namespace vitflow
