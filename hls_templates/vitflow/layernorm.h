// vitflow: integer LayerNorm over a vector of C codes x (LAYERNORM_* fields), exactly the program's:
//   q_c = x_c << sh_c (sh: TSPTQ's outlier-aware two scales, one byte per channel; none when SH_WORDS = 0),
//   S = sum q, d = C q - S, V = sum d^2, sigma = max(isqrt(V), 1),
//   y = clamp(round_half_even((d a_c + sigma b_c) / (sigma 2^K)))      (K < 0: numerator times 2^-K)
// isqrt is the digit-by-digit (shift-subtract) integer square root, 32 iterations for a 64-bit V.
//
// One element per cycle in each of three passes (sum, variance, output): the head's one LayerNorm of B1
// is 1,600 elements, under 0.2% of a frame, so one 64-bit multiplier and one pipelined divider serve it
// (every output divides by the same sigma 2^K; a divider at II = 1 gives one exact quotient per cycle).
// The weight stream (flow/hls/streams.py): the shifts (L bytes per word, SH_WORDS words) then the
// coefficients (a_c, b_c) as int32 pairs, L / 8 pairs per word, read in the output pass.
// Input and output are dense vectors (element c: word c / (L / EB), lane c % (L / EB); counters).
//
// Template parameters:
//   L          word bytes
//   SH_WORDS   words of the shift buffer: the largest C / L of the program's LayerNorms (at least 1)
//   ACT_WORDS  words of the on-chip activation memory
#pragma once
#include "conv_pe.h"
#include "isqrt.h"

namespace vitflow {

// floor(sqrt(v)): 32 steps of isqrt.h's, one per cycle
inline ap_uint<64> isqrt64(ap_uint<64> v) {
    ap_uint<64> res = 0, bit = ap_uint<64>(1) << 62;
    VITFLOW_LOOP(ln_sqrt, VITFLOW_DEPTH_ISQRT);
    ln_sqrt: for (int i = 0; i < 32; i++) {
        VITFLOW_PIPELINE(ln_sqrt, 1);
        isqrt_step(v, res, bit);
    }
    return res;
}

// One pass over the vector, element by element: the word of x and of the shifts read once per word.
template <int L, int SH_WORDS, int ACT_WORDS>
struct LnReader {
    int lanes, eb, sgn, has_shift, x_addr, lane, sl, sw;
    Word<L> xw, shw;
    LnReader(int in0, int eb_, int sgn_, int shifts) {
        lanes = eb_ == 1 ? L : L / 2;
        eb = eb_;
        sgn = sgn_;
        has_shift = shifts;
        x_addr = in0;
        lane = 0;
        sl = 0;
        sw = 0;
    }
    // q_c of the next element
    template <class SHBUF>
    wide_t next(Mem<Word<L>, ACT_WORDS> &act, SHBUF &shbuf) {
#pragma HLS INLINE
        if (lane == 0) xw = act[x_addr];
        if (has_shift && sl == 0) shw = shbuf[sw];
        const wide_t x = element<L>(xw, lane, eb, sgn);
        const int s = has_shift ? int(int8_t(shw.b[sl])) : 0;
        if (++lane == lanes) {
            lane = 0;
            x_addr++;
        }
        if (++sl == L) {
            sl = 0;
            sw++;
        }
        return x << s;
    }
};

template <int L, int SH_WORDS, int ACT_WORDS>
void layernorm_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI], in0 = d[FIELD_IN0], out0 = d[FIELD_OUT];
    const int ch = d[LAYERNORM_C], k = d[LAYERNORM_K], sh_words = d[LAYERNORM_SH_WORDS];
    const int lanes_out = eb_out == 1 ? L : L / 2, pairs = L / 8;

    VITFLOW_BUFFER1(Word<L>, shbuf, SH_WORDS);  // the channel shifts, one byte each
    VITFLOW_AGGREGATE(shbuf);                    // one L-byte word per address
    {
        VITFLOW_LOOP(ln_shifts, VITFLOW_DEPTH_COPY);
        ln_shifts: for (int i = 0; i < sh_words; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 0 max = 200
            VITFLOW_PIPELINE(ln_shifts, 1);
            shbuf[i] = ws.read();
        }
    }
    wide_t s = 0;
    {
        LnReader<L, SH_WORDS, ACT_WORDS> rd(in0, eb_in, sgn_in, sh_words > 0);
        VITFLOW_LOOP(ln_sum, VITFLOW_DEPTH_COPY);
        ln_sum: for (int c = 0; c < ch; c++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 1600
            VITFLOW_PIPELINE(ln_sum, 1);
            s += rd.next(act, shbuf);
        }
    }
    wide_t v = 0;
    {
        LnReader<L, SH_WORDS, ACT_WORDS> rd(in0, eb_in, sgn_in, sh_words > 0);
        VITFLOW_LOOP(ln_var, VITFLOW_DEPTH_MAC);
        ln_var: for (int c = 0; c < ch; c++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 1600
            VITFLOW_PIPELINE(ln_var, 1);
            const wide_t dc = rd.next(act, shbuf) * ch - s;
            v += dc * dc;
        }
    }
    wide_t sigma = wide_t(isqrt64(ap_uint<64>(v)));
    if (sigma < 1) sigma = 1;
    const wide_t den = k >= 0 ? wide_t(sigma << k) : sigma;
    const int num_shift = k >= 0 ? 0 : -k;
    {
        LnReader<L, SH_WORDS, ACT_WORDS> rd(in0, eb_in, sgn_in, sh_words > 0);
        Word<L> ab = zero_word<L>(), yw = zero_word<L>();
        int pl = 0, ol = 0, out_addr = out0;
        VITFLOW_LOOP(ln_out, VITFLOW_DEPTH_DIV);
        ln_out: for (int c = 0; c < ch; c++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 1600
            VITFLOW_PIPELINE(ln_out, 1);
            VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (memory plan)
            if (pl == 0) ab = ws.read();
            const wide_t a = word_int<L>(ab, 2 * pl), b = word_int<L>(ab, 2 * pl + 1);
            const wide_t num = (rd.next(act, shbuf) * ch - s) * a + sigma * b;
            set_element<L>(yw, ol, eb_out, clamp(round_div(num << num_shift, den), lo, hi));
            if (++pl == pairs) pl = 0;
            if (++ol == lanes_out || c == ch - 1) {
                act[out_addr] = yw;
                out_addr++;
                ol = 0;
            }
        }
    }
}

}  // namespace vitflow
