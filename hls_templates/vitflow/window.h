// vitflow: the output pixels of a k x k convolution (or of a row stripe of one) and where their windows
// read in the input, walked with additions only: the strides are multiplied out once per layer, and a
// step of a tap or a pixel adds them. The conv PE array's walk (CONV_* fields); the depthwise engine
// streams its input through a line buffer instead (dwconv.h).
#pragma once
#include "vitflow_layout.h"

namespace vitflow {

struct Window {
    // the layer's geometry (words): input rows and columns, words per input and output pixel, strides
    int hin, win, cw_in, kw_n, sh, sw, cw_out, wout, step_px, step_row, next_row_taps;
    // the walk: output column, the window's top-left input row and column, the first word of the row's
    // first window and of this window (padding may put them outside the input), the tap, the output word.
    // Every counter moves by one addition per step (nothing longer on a loop-carried path).
    int ow, ih0, iw0, iw0_row, row_pix, pix, kh, kw, tap_off, out_addr;
    // a step's pixels (1, or 2 for the PE array's pixel pairs: an even output width) and what a step adds
    int px_n, step_px_n, sw_n, out_step;

    // Start at the descriptor's first output row; input words from `word0` of each pixel, output word `tile`.
    void start(const int d[DESC_WORDS], int word0, int tile) {
#pragma HLS INLINE
        hin = d[CONV_H_IN];
        win = d[CONV_W_IN];
        cw_in = d[CONV_CW_IN];
        kw_n = d[CONV_KW];
        sh = d[CONV_SH];
        sw = d[CONV_SW];
        cw_out = d[CONV_CW_OUT];
        wout = d[CONV_W_OUT];
        const int rs = win * cw_in, row_begin = d[CONV_ROW_BEGIN];
        step_px = sw * cw_in;
        step_row = sh * rs;
        next_row_taps = rs - (kw_n - 1) * cw_in;  // from the last tap of a window row to the first of the next
        ow = 0;
        ih0 = row_begin * sh - d[CONV_PT];
        iw0_row = -d[CONV_PL];
        iw0 = iw0_row;
        row_pix = d[FIELD_IN0] + (ih0 - d[CONV_IN_ROW0]) * rs + iw0_row * cw_in + word0;
        pix = row_pix;
        kh = 0;
        kw = 0;
        tap_off = 0;
        out_addr = d[FIELD_OUT] + (row_begin - d[CONV_OUT_ROW0]) * wout * cw_out + tile;
        pixels_per_step(1);
    }
    // Steps of n pixels (1 or 2, once per tile): each counter still moves by one addition a step.
    void pixels_per_step(int n) {
#pragma HLS INLINE
        px_n = n;
        step_px_n = n == 2 ? 2 * step_px : step_px;
        sw_n = n == 2 ? 2 * sw : sw;
        out_step = n == 2 ? 2 * cw_out : cw_out;
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
        const bool wrap = kw == kw_n - 1;
        tap_off += wrap ? next_row_taps : cw_in;
        kw = wrap ? 0 : kw + 1;
        if (wrap) kh++;
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
        out_addr += out_step;
        ow += px_n;
        if (ow == wout) {
            ow = 0;
            iw0 = iw0_row;
            ih0 += sh;
            pix = row_pix + step_row;  // the next row's first window: one add from row_pix, as row_pix's own
            row_pix += step_row;
        } else {
            iw0 += sw_n;
            pix += step_px_n;
        }
    }
};

}  // namespace vitflow
