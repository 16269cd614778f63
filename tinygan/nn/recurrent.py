"""Recurrent layers: RNN, LSTM and GRU (several layers, either direction) and their one-step cells RNNCell,
LSTMCell and GRUCell, with PyTorch's arguments, parameter names and shapes, gate order and initialisation, so a
torch state_dict loads as it is.

One step, with xw = x W_ih^T + b_ih (for a whole sequence in one product) and hw = h W_hh^T + b_hh:

    RNN:  h' = tanh(xw + hw)                          (or relu)
    LSTM: i, f, g, o = split(xw + hw, 4)              gate order i, f, g, o as PyTorch
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g);   h' = sigmoid(o) * tanh(c')
    GRU:  r, z = sigmoid(split(xw + hw, 3)[:2])        gate order r, z, n as PyTorch
          n = tanh(xw_n + r * hw_n);   h' = (1 - z) * n + z * h

The steps are composed of differentiable ops, so gradients (and create_graph) come from the engine.
"""
import math
import warnings

from tinygan import functional as F
from tinygan.core import Tensor, array_backend
from tinygan.nn import init
from tinygan.nn.module import Module, check_input, empty_parameter
from tinygan.ops.linear import check_weight_dtype
from tinygan.ops.recurrent import LSTMSequence

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ==================================================================================================
# One time step: xw is the input's projection x W_ih^T + b_ih, state the hidden state (LSTM: (h, c))
# ==================================================================================================
def rnn_tanh_step(xw, h, W_hh, b_hh):
    return F.tanh(xw + F.linear(h, W_hh, b_hh))


def rnn_relu_step(xw, h, W_hh, b_hh):
    return F.relu(xw + F.linear(h, W_hh, b_hh))


def lstm_step(xw, state, W_hh, b_hh):
    h, c = state
    gates = xw + F.linear(h, W_hh, b_hh)                         # (N, 4H): i, f, g, o
    H = h.shape[-1]
    i = F.sigmoid(gates[..., 0:H])
    f = F.sigmoid(gates[..., H:2 * H])
    g = F.tanh(gates[..., 2 * H:3 * H])
    o = F.sigmoid(gates[..., 3 * H:])
    c = f * c + i * g
    return o * F.tanh(c), c


def gru_step(xw, h, W_hh, b_hh):
    hw = F.linear(h, W_hh, b_hh)                                 # (N, 3H): r, z, n
    H = h.shape[-1]
    rz = F.sigmoid(xw[..., :2 * H] + hw[..., :2 * H])
    r, z = rz[..., :H], rz[..., H:]
    n = F.tanh(xw[..., 2 * H:] + r * hw[..., 2 * H:])
    return n + z * (h - n)                                       # = (1 - z) * n + z * h


def run_lstm_fused(xw, state, W_hh, b_hh, reverse):
    """run_direction's LSTM loop as one Function (tinygan/ops/recurrent.py): the same numbers, fewer nodes."""
    H = W_hh.shape[1]
    y = LSTMSequence.apply(xw, *state, W_hh, *([] if b_hh is None else [b_hh]), reverse=reverse)
    last = 0 if reverse else -1                                  # y: (L, N, 2H), y[t] = [h_t, c_t]
    return y[:, :, :H], (y[last, :, :H], y[last, :, H:])


# The LSTM layers' time loop: one fused Function (True) or the composed steps (False: second derivatives)
FUSED_LSTM = True

STEPS = {"RNN_TANH": rnn_tanh_step, "RNN_RELU": rnn_relu_step, "LSTM": lstm_step, "GRU": gru_step}


def run_direction(step, x, state, W_ih, W_hh, b_ih, b_hh, reverse):
    """The outputs h_1..h_L of one layer in one direction over x (L, N, I), stacked to (L, N, H), and the
    last state."""
    xw = F.linear(x, W_ih, b_ih)                                 # (L, N, I) -> (L, N, G*H): one product
    if step is lstm_step and FUSED_LSTM:
        return run_lstm_fused(xw, state, W_hh, b_hh, reverse)
    outputs = [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        state = step(xw[t], state, W_hh, b_hh)
        outputs[t] = state[0] if isinstance(state, tuple) else state
    return F.stack(outputs, 0), state


# ==================================================================================================
# RNN, LSTM, GRU: whole sequences
# ==================================================================================================
class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (suffix ``_reverse`` for the backward direction), of shapes (G*H, I or D*H), (G*H, H), (G*H,), (G*H,), all
    ~ U(-1/sqrt(H), 1/sqrt(H)); and the loop over layers and directions."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported (got proj_size={proj_size})")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout}")
        if int(hidden_size) <= 0 or int(num_layers) <= 0 or int(input_size) < 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive and input_size non-negative, "
                             f"got input_size={input_size}, hidden_size={hidden_size}, num_layers={num_layers}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers=1")
        self.mode, self.input_size, self.hidden_size = mode, int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bool(bias), bool(batch_first)
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bool(bidirectional), 0
        gate_size = GATES[mode] * self.hidden_size
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for suffix in ("", "_reverse")[:self.num_directions]:
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, self.hidden_size))]
                if self.bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for kind, shape in shapes:
                    setattr(self, f"{kind}_l{layer}{suffix}", empty_parameter(*shape))
                    self._flat_weights_names.append(f"{kind}_l{layer}{suffix}")
        self.reset_parameters()
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """A no-op (cuDNN packs its weights in one buffer; tinygan has nothing to pack)."""

    def _weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [getattr(self, f"{n}_l{layer}{suffix}") if self.bias or n.startswith("weight") else None
                for n in names]

    def forward(self, input, hx=None):
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(1)              # (L, I) -> (L, 1, I)
        if batched and self.batch_first:
            x = x.transpose(0, 1)                                  # (N, L, I) -> (L, N, I)
        states = self._initial_states(hx, x, batched)              # per part: (layers*dirs, N, H)
        step = STEPS[self.mode]
        last_states = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                state = tuple(s[k] for s in states)
                y, state = run_direction(step, x, state if self.mode == "LSTM" else state[0],
                                         *self._weights(layer, direction), reverse=direction == 1)
                outputs.append(y)
                last_states.append(state if self.mode == "LSTM" else (state,))
            x = outputs[0] if len(outputs) == 1 else F.cat(outputs, 2)    # (L, N, D*H)
        h_n = tuple(F.stack([s[part] for s in last_states], 0) for part in range(len(states)))
        return self._finish(x, h_n, batched)

    def _finish(self, output, h_n, batched):
        if not batched:
            output = output.squeeze(1)                             # (L, 1, D*H) -> (L, D*H)
            h_n = tuple(h.squeeze(1) for h in h_n)                 # (layers*dirs, 1, H) -> (layers*dirs, H)
        elif self.batch_first:
            output = output.transpose(0, 1)                        # (L, N, D*H) -> (N, L, D*H)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def _check_input(self, input):
        """True for a batched (3-D) input, False for an unbatched (2-D) one; a clear error otherwise."""
        layout = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
        expected = f"{layout.format(self.input_size)} or unbatched (L, {self.input_size})"
        check_input(self, input, lambda x: x.ndim in (2, 3) and x.shape[-1] == self.input_size, expected)
        check_weight_dtype(self._error_name(), input, self.weight_ih_l0)
        return input.ndim == 3

    def _initial_states(self, hx, x, batched):
        """(h0,) or (h0, c0), each (layers*dirs, N, H); zeros where hx is None."""
        parts = ("h0", "c0") if self.mode == "LSTM" else ("h0",)
        shape = (self.num_layers * self.num_directions, x.shape[1], self.hidden_size)
        if hx is None:
            return (_zeros_like_input(x, shape),) * len(parts)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._error_name()} expected hx as a tuple (h0, c0), got {type(hx).__name__}")
        else:
            hx = (hx,)
        expected = shape if batched else (shape[0], shape[2])
        states = []
        for part, h in zip(parts, hx):
            if not isinstance(h, Tensor) or tuple(h.shape) != expected:
                got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
                raise ValueError(f"{self._error_name()} expected {part} of shape {expected}, got {got}")
            check_weight_dtype(f"{self._error_name()} ({part})", h, self.weight_ih_l0)
            states.append(h if batched else h.unsqueeze(1))        # (layers*dirs, H) -> (layers*dirs, 1, H)
        return tuple(states)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:                                          # (PyTorch's repr leaves out nonlinearity)
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _zeros_like_input(x, shape):
    """Zeros of ``shape`` in x's dtype and on x's device (a constant: no gradient)."""
    return Tensor.from_array(array_backend.get_array_module(x.array).zeros(shape, dtype=x.dtype))


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), layer after layer.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``; forward(input, h0=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs):
        if len(args) > 3:                                          # PyTorch's positional order puts it 4th
            kwargs["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}', expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o (see the module docstring).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``; forward(input, (h0, c0)=None) -> (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), as PyTorch.

    Same arguments as LSTM; forward(input, h0=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


# ==================================================================================================
# Cells: one step, input (N, I) or unbatched (I,)
# ==================================================================================================
class RNNCellBase(Module):
    """Parameters weight_ih (G*H, I), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,) ~ U(-1/sqrt(H),
    1/sqrt(H))."""

    def __init__(self, mode, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, int(input_size), int(hidden_size), bias
        gate_size = GATES[mode] * self.hidden_size
        self.weight_ih = empty_parameter(gate_size, self.input_size)
        self.weight_hh = empty_parameter(gate_size, self.hidden_size)
        if bias:
            self.bias_ih = empty_parameter(gate_size)
            self.bias_hh = empty_parameter(gate_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    reset_parameters = RNNBase.reset_parameters

    def forward(self, input, hx=None):
        check_input(self, input, lambda x: x.ndim in (1, 2) and x.shape[-1] == self.input_size,
                    f"(N, {self.input_size}) or unbatched ({self.input_size},)")
        check_weight_dtype(self._error_name(), input, self.weight_ih)
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)               # (I,) -> (1, I)
        state = self._initial_state(hx, x, batched)
        xw = F.linear(x, self.weight_ih, self.bias_ih)
        state = STEPS[self.mode](xw, state if self.mode == "LSTM" else state[0], self.weight_hh, self.bias_hh)
        if not batched:
            state = tuple(s.squeeze(0) for s in state) if self.mode == "LSTM" else state.squeeze(0)
        return state

    def _initial_state(self, hx, x, batched):
        parts = ("h", "c") if self.mode == "LSTM" else ("h",)
        shape = (x.shape[0], self.hidden_size)
        if hx is None:
            return (_zeros_like_input(x, shape),) * len(parts)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._error_name()} expected hx as a tuple (h, c), got {type(hx).__name__}")
        else:
            hx = (hx,)
        expected = shape if batched else (self.hidden_size,)
        states = []
        for part, h in zip(parts, hx):
            if not isinstance(h, Tensor) or tuple(h.shape) != expected:
                got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
                raise ValueError(f"{self._error_name()} expected {part} of shape {expected}, got {got}")
            states.append(h if batched else h.unsqueeze(0))         # (H,) -> (1, H)
        return tuple(states)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}', expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias,
                         device, dtype)


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)
