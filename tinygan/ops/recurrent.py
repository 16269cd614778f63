"""One LSTM layer over a whole sequence, in one direction, as one Function: the time loop runs in forward and,
backwards in time, in backward, on arrays.

Composed of small ops, one LSTM step is about fifteen graph nodes, and slicing step t out of the (L, N, 4H)
input projection costs a full-size zero gradient per step (quadratic in L). Here the whole loop is one node; the
input projection xw = x W_ih^T + b_ih stays one Linear over all steps (one GEMM), and backward returns its
gradient and W_hh's each as one array, W_hh's from one GEMM over all steps.
"""
from tinygan.core.array_backend import get_array_module
from tinygan.core.function import Function
from tinygan.ops.elementwise import sigmoid_array


class LSTMSequence(Function):
    """For t = 1..L (t = L..1 when reverse), with a_t = xw_t + h_{t-1} W_hh^T + b_hh split into i, f, g, o:
        i, f, o = sigmoid(.);  g = tanh(.);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t);   y_t = [h_t, c_t]
    Backward, from t = L down to 1 with gh, gc carried from step t+1 (gh = gc = 0 after the last step):
        gh_t = gy_h + gh;  gc_t = gy_c + gc + gh_t o (1 - tanh(c_t)^2)
        ga_t = [gc_t g i (1 - i),  gc_t c_{t-1} f (1 - f),  gc_t i (1 - g^2),  gh_t tanh(c_t) o (1 - o)]
        gh = ga_t W_hh;  gc = gc_t f;   gxw_t = ga_t;  gW_hh = sum_t ga_t^T h_{t-1};  gb_hh = sum_t ga_t

    Inputs xw (L, N, 4H), h0 (N, H), c0 (N, H), W_hh (4H, H), b_hh (4H,) or absent; output y (L, N, 2H),
    y[t] = [h_t, c_t], so the layer's output is y[..., :H] and (h_n, c_n) the last step's halves.
    First derivatives only (a second derivative through it raises NoSecondDerivativeError).
    """

    def __init__(self, reverse=False):
        self.reverse = reverse

    def steps(self, L):
        return range(L - 1, -1, -1) if self.reverse else range(L)

    def forward(self, xw, h0, c0, W_hh, b_hh=None):
        xp = get_array_module(xw)
        L, N, H = xw.shape[0], h0.shape[0], h0.shape[1]
        y = xp.empty((L, N, 2 * H), dtype=xw.dtype)
        self.gates = xp.empty((L, N, 4 * H), dtype=xw.dtype)      # i, f, g, o after their activations
        h, c = h0, c0
        for t in self.steps(L):
            a = xw[t] + h @ W_hh.T                                 # (N, 4H)
            if b_hh is not None:
                a += b_hh
            gates = self.gates[t]
            gates[:, :2 * H] = sigmoid_array(a[:, :2 * H])         # i, f
            gates[:, 2 * H:3 * H] = xp.tanh(a[:, 2 * H:3 * H])     # g
            gates[:, 3 * H:] = sigmoid_array(a[:, 3 * H:])         # o
            i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            c = f * c + i * g
            h = o * xp.tanh(c)
            y[t, :, :H], y[t, :, H:] = h, c
        self.y = y
        return y

    def previous_states(self, h0, c0):
        """h_{t-1} and c_{t-1} for every t, each (L, N, H): the state each step started from."""
        xp = get_array_module(h0)
        H, before = h0.shape[1], self.y
        if self.reverse:                                           # step t starts from step t+1's state
            return (xp.concatenate([before[1:, :, :H], h0[None]]),
                    xp.concatenate([before[1:, :, H:], c0[None]]))
        return (xp.concatenate([h0[None], before[:-1, :, :H]]),   # (1, N, H) + (L-1, N, H) -> (L, N, H)
                xp.concatenate([c0[None], before[:-1, :, H:]]))

    def backward(self, gy):
        xw, h0, c0, W_hh = self.saved_inputs()[:4]
        xp = get_array_module(gy)
        L, H = xw.shape[0], h0.shape[1]
        h_prev, c_prev = self.previous_states(h0, c0)
        ga = xp.empty_like(self.gates)                             # (L, N, 4H): gradients of the pre-activations
        gh = xp.zeros_like(h0)
        gc = xp.zeros_like(c0)
        for t in reversed(self.steps(L)):
            i, f, g, o = (self.gates[t, :, k * H:(k + 1) * H] for k in range(4))
            tanh_c = xp.tanh(self.y[t, :, H:])
            gh = gy[t, :, :H] + gh
            gc = gy[t, :, H:] + gc + gh * o * (1 - tanh_c * tanh_c)
            ga[t, :, :H] = gc * g * i * (1 - i)
            ga[t, :, H:2 * H] = gc * c_prev[t] * f * (1 - f)
            ga[t, :, 2 * H:3 * H] = gc * i * (1 - g * g)
            ga[t, :, 3 * H:] = gh * tanh_c * o * (1 - o)
            gh = ga[t] @ W_hh                                      # (N, 4H) @ (4H, H) -> (N, H)
            gc = gc * f
        ga2 = ga.reshape(-1, 4 * H)                                # (L, N, 4H) -> (L*N, 4H)
        gW_hh = ga2.T @ h_prev.reshape(-1, H)                      # (4H, L*N) @ (L*N, H) -> (4H, H)
        gb_hh = ga2.sum(0) if len(self.inputs) > 4 else None
        return (ga, gh, gc, gW_hh) + ((gb_hh,) if len(self.inputs) > 4 else ())
