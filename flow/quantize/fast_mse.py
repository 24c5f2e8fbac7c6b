"""Brevitas' MSE scale search with its candidates' losses computed by a compiled kernel, same choices.

Brevitas' MSE observer (brevitas.core.stats.stats_op.MSE, grid search) evaluates each of its 20 candidate
scales by running the quantizer proxy over the batch's whole activation tensor and then ``mse_loss``: about
nine passes over the tensor per candidate, each allocating a new one. On B1 at 224 that is 185 quantizers ×
20 candidates on 16 × C × H × W tensors per batch, three quarters of ``flow build``'s calibration time.

Here, per search:
- the candidates are formed exactly as ``mse_grid_search`` forms them, and each one's scale, zero point and
  bit width come from Brevitas' own scaling chain (the proxy run on a two-element probe, in the same
  local-loss mode; restriction to powers of two included);
- the losses of all candidates come from one pass of flow/quantize/kernels/mse_loss.c, whose per-element
  arithmetic is Brevitas' (IntQuant, then the squared error) in the same float32 order. Only the sum
  differs: double here, float32 ``torch.sum`` there (relative difference about 1e-7);
- the choice is Brevitas' (the first candidate of least loss) whenever it cannot depend on that difference:
  candidates with identical (scale, zero point) have identical losses both ways, and every other candidate
  must lose by more than MARGIN. Otherwise Brevitas runs that search itself.

Nothing is taken on trust: each quantizer's first search also runs the proxy over the whole tensor for one
candidate and requires the kernel's fake-quantized tensor to be identical and its loss within 1e-5 of
Brevitas'; a quantizer that fails keeps Brevitas' search. Quantizers this does not recognise (per-channel,
fibonacci or bipolar search, a non-identity activation, another rounding or clamping module, a zero point
searched by MSE too, whose own search reads the tensor while the scale's runs) keep it too.
tests/quantize/test_fast_mse.py checks that whole calibrations give bit-identical state.
"""

from contextlib import contextmanager

import torch
from brevitas.core.function_wrapper import Identity, RoundSte, TensorClamp
from brevitas.core.quant.int_base import IntQuant
from brevitas.core.stats.stats_op import MSE
from brevitas.quant_tensor import _unpack_quant_tensor

from . import mse_kernel

MARGIN = 1e-4  # relative loss gap the double sum may decide alone (the float32 sum's error is ~1e-7 here)
_IDENTITY = (Identity, torch.nn.Identity)


def _int_quant(fused_proxy):
    """The IntQuant of a fused activation-quant proxy when the kernel's arithmetic is its own, else None."""
    iq = getattr(getattr(fused_proxy, "tensor_quant", None), "int_quant", None)
    if not isinstance(iq, IntQuant) or not isinstance(getattr(fused_proxy, "activation_impl", None), _IDENTITY):
        return None
    if type(iq.float_to_int_impl) is not RoundSte or type(iq.tensor_clamp_impl) is not TensorClamp:
        return None
    return iq if isinstance(iq.input_view_impl, _IDENTITY) else None


def _choose(params: list, losses) -> int | None:
    """Brevitas' choice (first index of least float32 loss) if the double losses decide it, else None."""
    first = {}
    for i, p in enumerate(params):
        first.setdefault(p, i)
    groups = sorted(first.values())
    best = min(groups, key=lambda i: (losses[i], i))
    if not all(losses[i] > losses[best] * (1 + MARGIN) for i in groups if i != best):
        return None
    return best


class _FastSearch:
    """Replaces one MSE module's ``mse_search`` (an instance attribute, removed again on exit)."""

    def __init__(self, mse: MSE, fused_proxy, int_quant: IntQuant, lib):
        self.mse, self.fused_proxy, self.int_quant, self.lib = mse, fused_proxy, int_quant, lib
        self.verified = None  # None: not yet; True: identical on its first search; False: Brevitas' from then on
        self.searches = self.delegated = 0

    def _local(self, candidate, fn):
        m = self.mse
        m.internal_candidate = candidate
        m.set_local_loss_mode(True)
        m.set_observer_mode(False)
        try:
            return fn()
        finally:
            m.set_local_loss_mode(False)
            m.restore_observer_mode()

    def _brevitas(self, x):
        self.delegated += 1
        return MSE.mse_search(self.mse, x)

    def _verify(self, x, candidate, scale, zero_point, lo, hi) -> bool:
        quant = _unpack_quant_tensor(self._local(candidate, lambda: self.mse.proxy_forward(x)))
        mine = mse_kernel.fake_quantize(self.lib, x, scale, zero_point, lo, hi)
        if quant.shape != x.shape or not torch.equal(mine, quant.reshape(x.shape)):
            return False
        theirs = float(self.mse.mse_loss_fn(x, quant))
        ours = float(mse_kernel.mse_losses(self.lib, x, [scale], [zero_point], lo, hi)[0])
        return abs(ours - theirs) <= 1e-5 * max(abs(theirs), 1e-30)

    def __call__(self, x):
        m = self.mse
        if self.verified is False or x.dtype != torch.float32 or x.device.type != "cpu":
            return self._brevitas(x)
        self.searches += 1
        # Brevitas' MSE.mse_search and mse_grid_search, step for step
        x_view = m.input_view_shape_impl(x)
        init = m.mse_init_op(x_view).detach()
        base = m.mse_base_op(init)
        xl, xr = torch.minimum(base, init), torch.maximum(base, init)
        candidates = [xl] + [(xl + (xr - xl) * ts).detach() for ts in torch.linspace(1. / (m.num - 1), 1., m.num - 1)]
        probe = x.reshape(-1)[:2]
        quants = [self._local(c, lambda: self.fused_proxy(probe)[1:]) for c in candidates]
        if any(t.numel() != 1 for q in quants for t in q) or len({float(q[2]) for q in quants}) != 1:
            return self._brevitas(x)  # not one scalar scale, zero point and bit width per candidate
        lo, hi = float(self.int_quant.min_int(quants[0][2])), float(self.int_quant.max_int(quants[0][2]))
        params = [(float(s), float(z)) for s, z, _ in quants]
        if self.verified is None:
            self.verified = self._verify(x, candidates[0], *params[0], lo, hi)
            if not self.verified:
                return self._brevitas(x)
        losses = mse_kernel.mse_losses(self.lib, x, [p[0] for p in params], [p[1] for p in params], lo, hi)
        best = _choose(params, losses)
        if best is None:
            return self._brevitas(x)
        m.internal_candidate = candidates[best]
        m.restore_offload_param()
        return candidates[best]


@contextmanager
def fast_mse_search(model):
    """Within the block, every per-tensor activation grid MSE search of ``model`` runs as in the module
    docstring. Yields a dict filled on exit: {quantizer name: (verified: True/False/None if it never ran,
    searches run here, searches Brevitas ran)}. Without a C compiler nothing is patched."""
    lib = mse_kernel.load()
    patched = {}
    for name, mod in model.named_modules():
        if lib is None or not isinstance(mod, MSE) or mod.stats_reduce_dim is not None:
            continue
        if mod.search_method != "grid" or mod.bipolar_search or mod.num < 2:
            continue
        fused = getattr(getattr(mod.proxy_forward, "__self__", None), "fused_activation_quant_proxy", None)
        iq = _int_quant(fused) if fused is not None else None
        if iq is not None and sum(isinstance(m, MSE) for m in fused.modules()) == 1:
            patched[name] = _FastSearch(mod, fused, iq, lib)
            mod.mse_search = patched[name]
    status = {}
    try:
        yield status
    finally:
        for name, fast in patched.items():
            del fast.mse.mse_search  # back to the class's method
            status[name] = (fast.verified, fast.searches, fast.delegated)
