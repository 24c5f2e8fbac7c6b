/* The loss of Brevitas' MSE scale search for several candidate (scale, zero point) pairs, in one pass.
 *
 * Each element goes through the arithmetic of brevitas.core.quant.int_base.IntQuant followed by
 * torch.nn.functional.mse_loss, in float32 and in the same order:
 *     y = rint(x / s + z)          (RoundSte: round half to even; the zero-point add before it)
 *     y = y > hi ? hi : y          (TensorClamp: torch.where(y > max, max, y) ...
 *     y = y < lo ? lo : y           ... then torch.where(y < min, min, y))
 *     q = (y - z) * s
 *     e = (x - q) * (x - q)
 * so every e is the float Brevitas computes. Only the sum differs: Brevitas sums the floats with
 * torch.sum in float32, here they are summed in double (flow.quantize.fast_mse decides when that
 * difference could change the search's choice and then lets Brevitas evaluate it).
 *
 * Build flags (flow/quantize/mse_kernel.py): -O3 -march=native to vectorize, -ffp-contract=off so that
 * (y - z) * s and the square are never fused into an FMA (a different rounding), no -ffast-math
 * (it would change the division and the rounding mode's semantics).
 */
#include <math.h>
#include <stdint.h>

#define BLOCK 2048 /* elements per block: a block of x and its squares stay in L1 across the candidates */
#define LANES 8    /* independent double accumulators, so the reduction vectorizes without reassociation */

static inline float fake_quant(float x, float s, float z, float lo, float hi)
{
    float y = rintf(x / s + z);
    y = y > hi ? hi : y;
    y = y < lo ? lo : y;
    return (y - z) * s;
}

/* out[c] = sum over i of (x[i] - q_c(x[i]))^2, for candidates c = 0 .. ncand-1 */
void mse_losses(const float *x, int64_t n, const float *scale, const float *zero_point, int ncand,
                float lo, float hi, double *out)
{
    float sq[BLOCK];
    for (int c = 0; c < ncand; c++)
        out[c] = 0.0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t m = n - b < BLOCK ? n - b : BLOCK;
        const float *xb = x + b;
        for (int c = 0; c < ncand; c++) {
            const float s = scale[c], z = zero_point[c];
            for (int64_t i = 0; i < m; i++) {
                const float d = xb[i] - fake_quant(xb[i], s, z, lo, hi);
                sq[i] = d * d;
            }
            double acc[LANES] = {0.0};
            int64_t i = 0;
            for (; i + LANES <= m; i += LANES)
                for (int j = 0; j < LANES; j++)
                    acc[j] += (double)sq[i + j];
            double t = 0.0;
            for (; i < m; i++)
                t += (double)sq[i];
            for (int j = 0; j < LANES; j++)
                t += acc[j];
            out[c] += t;
        }
    }
}

/* q[i] = q(x[i]) for one candidate: to check the per-element arithmetic against Brevitas' own proxy */
void fake_quantize(const float *x, int64_t n, float s, float z, float lo, float hi, float *q)
{
    for (int64_t i = 0; i < n; i++)
        q[i] = fake_quant(x[i], s, z, lo, hi);
}
