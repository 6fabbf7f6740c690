"""Matmul-like work of a captured training step (the trace header's ``workload`` graph).

Every op of the graph is one of three things for the replay:

* **covered** — a matmul-like op that ran under a conv2d/linear layer of
  ``header.layers``; that layer's GEMMs (accelsim.sim.lowering) cost it, once per pass
  (:func:`layer_passes`: gradient accumulation runs each layer once per micro-batch);
* **lowered** — any other matmul-like op (conv 1d/2d/3d, grouped, depthwise, dilated,
  transposed; addmm/mm/bmm/baddbmm between activations or with a parametrised weight;
  fused scaled-dot-product attention) becomes one or more :class:`GemmLayer` s that the
  replay costs in the phase the op really ran in;
* **uncosted** — everything else (norms, activations, pooling, adds, softmax, losses,
  optimizer arithmetic, embedding lookups, ops with shapes this module does not know):
  counted by name, reported by ``record``, ``trace info`` and ``simulate``; never costed
  in silence.

MACs follow torch.utils.flop_counter's conventions (FLOPs / 2). Torch-free.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

from accelsim.errors import ConfigError, TraceError
from accelsim.sim.lowering import GEMM_KINDS, PHASES, Gemm, GemmLayer, Operand, gemm_layers, lower
from accelsim.trace import TraceHeader

_SDPA_FWD = ("aten._scaled_dot_product_flash_attention_for_cpu",
             "aten._scaled_dot_product_flash_attention",
             "aten._scaled_dot_product_efficient_attention",
             "aten._scaled_dot_product_cudnn_attention")
_SDPA_BWD = tuple(f"{name}_backward" for name in _SDPA_FWD)
_GEMM_OPS = ("aten.mm", "aten.addmm", "aten.bmm", "aten.baddbmm")
_CONV_OPS = ("aten.convolution", "aten._convolution")
MATMUL_OPS = (*_GEMM_OPS, *_CONV_OPS, "aten.convolution_backward", *_SDPA_FWD, *_SDPA_BWD)
# Ops that only reinterpret, allocate or read back a tensor: no work of their own, so
# neither costed nor reported as uncosted (counted in StepWork.views).
VIEW_OPS = frozenset(f"aten.{name}" for name in (
    "t", "view", "_unsafe_view", "reshape", "_reshape_alias", "transpose", "permute",
    "expand", "unsqueeze", "squeeze", "select", "slice", "as_strided", "split",
    "split_with_sizes", "chunk", "unbind", "empty", "empty_like", "empty_strided",
    "new_empty_strided", "_local_scalar_dense", "unflatten", "flatten"))


# Non-GEMM ops the vector unit runs: arithmetic operations per element, and which
# elements count (the output's, or the first input's for reductions and pooling). The
# counts are the op's plain arithmetic: an elementwise op is one operation per element;
# batch norm forward is 2 (sum and sum of squares, for the statistics) + 3 (subtract the
# mean, scale by 1/std and gamma, add beta); its backward 7 (the two reductions over the
# gradient and 5 per element to combine them); log-softmax 4 (max, subtract, exp, sum,
# log shared over a row); pooling 1 per input element (compare or add); SGD's fused
# foreach updates (add_, mul_, addcmul_) 1-2 per element. Copies (clone, copy_, padding,
# concatenation) move data but do no arithmetic: 0. Ops missing here stay uncosted.
VECTOR_OPS = {
    **{f"aten.{name}": (1, "out") for name in (
        "relu", "relu_", "threshold_backward", "add", "add_", "sub", "sub_", "mul", "mul_",
        "div", "div_", "neg", "abs", "where", "masked_fill_", "bitwise_not", "sign", "clamp",
        "clamp_", "sqrt", "rsqrt", "exp", "sigmoid", "tanh", "gelu", "hardtanh",
        "leaky_relu", "_foreach_add_", "_foreach_mul_", "eq", "ne", "gt", "lt", "ge", "le",
        "logical_and", "logical_or", "lerp_", "maximum", "minimum")},
    **{f"aten.{name}": (2, "out") for name in (
        "addcmul_", "addcdiv_", "_foreach_addcmul_", "_foreach_addcdiv_", "sigmoid_backward",
        "tanh_backward", "gelu_backward", "hardtanh_backward", "leaky_relu_backward")},
    **{f"aten.{name}": (1, "in") for name in (
        "sum", "mean", "avg_pool2d", "avg_pool2d_backward", "max_pool2d_with_indices",
        "max_pool2d_with_indices_backward", "adaptive_avg_pool2d",
        "_adaptive_avg_pool2d", "_adaptive_avg_pool2d_backward", "nll_loss_forward",
        "nll_loss_backward", "norm", "linalg_vector_norm")},
    "aten.native_batch_norm": (5, "out"), "aten._native_batch_norm_legit": (5, "out"),
    "aten._native_batch_norm_legit_functional": (5, "out"),
    "aten.native_batch_norm_backward": (7, "out"),
    "aten.native_layer_norm": (5, "out"), "aten.native_layer_norm_backward": (7, "out"),
    "aten._log_softmax": (4, "out"), "aten._softmax": (4, "out"),
    "aten._log_softmax_backward_data": (3, "out"), "aten._softmax_backward_data": (3, "out"),
    **{f"aten.{name}": (0, "out") for name in (
        "clone", "copy_", "constant_pad_nd", "cat", "fill_", "zero_", "zeros_like", "ones_like",
        "full_like", "_to_copy", "detach")},
}
# The graph's phase names -> the replay's (a backward op works on gradients).
VECTOR_PHASE = {"fwd": "fwd", "bwd": "bwd_data", "optimizer": "update"}


@dataclass(frozen=True)
class VectorOp:
    """A non-GEMM op of the step, as the vector unit runs it."""

    module: str
    phase: str  # the replay's phase (VECTOR_PHASE)
    ops: int  # arithmetic operations
    read_elements: int  # of its tensor inputs (sized by the description's dtypes)
    write_elements: int  # of its outputs
    # An elementwise op whose first input a matmul-like op made: fusion.elementwise runs
    # it on that GEMM's output tiles.
    fusable: bool = False


DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int64": 8,
               "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "bool": 1}


def packet(name: str) -> str:
    """``aten.mm.default`` -> ``aten.mm`` (the overload dropped)."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else name


@dataclass
class StepWork:
    """The matmul-like work of one optimizer step, as the replay and reports see it."""

    gemms: list[tuple[str, GemmLayer]] = field(default_factory=list)  # (module, layer)
    covered: Counter = field(default_factory=Counter)  # layer name -> fwd passes
    # covered layers whose input gradient was computed (not "first" in the backward)
    input_grads: set = field(default_factory=set)
    uncosted: Counter = field(default_factory=Counter)  # op packet -> count
    uncosted_by_module: Counter = field(default_factory=Counter)
    # forward output bytes per module path (activations written by the forward)
    activation_bytes: Counter = field(default_factory=Counter)
    vector: list = field(default_factory=list)  # VectorOp per non-GEMM op VECTOR_OPS knows
    ops: int = 0
    views: int = 0  # VIEW_OPS: no work

    @property
    def macs(self) -> int:
        return sum(lower_fixed(layer).macs for _, layer in self.gemms)

    @property
    def uncosted_ops(self) -> int:
        return sum(self.uncosted.values())

    @property
    def uncosted_matmul_ops(self) -> int:
        """Matmul-like ops not costed (an optimizer's own matmuls, unknown layouts):
        their MACs are missing from ``totals["macs"]``."""
        return sum(count for name, count in self.uncosted.items() if name in MATMUL_OPS)


def lower_fixed(layer: GemmLayer) -> Gemm:
    assert layer.fixed is not None
    return layer.fixed


def _fixed(name: str, phase: str, m: int, k: int, n: int, g: int, roles, elements,
           weight: int | None = None) -> GemmLayer:
    gemm = Gemm(name, phase, m, k, n, g, *(Operand(role, int(count))
                                           for role, count in zip(roles, elements,
                                                                  strict=True)))
    return GemmLayer(name=name, batch=1, pixels=m, in_elements=int(elements[0]),
                     out_elements=int(elements[2]), in_channels=k * g, out_channels=n * g,
                     kernel=1, groups=g, weight_tensor=weight, tensor_ids=(), first=False,
                     fixed=gemm)


def _is_param(entry) -> bool:
    return bool(entry.get("params"))


def _conv(op, name: str, phase: str) -> list[GemmLayer]:
    """convolution(x, w, bias, stride, padding, dilation, transposed, ...): fwd GEMM;
    convolution_backward(grad_out, x, w, ..., output_mask): its data and weight GEMMs."""
    backward = packet(op["op"]) == "aten.convolution_backward"
    args = op["args"]
    if backward:
        grad, x, w = (entry["shape"] for entry in op["inputs"][:3])
        transposed, groups, mask = bool(args[7]), int(args[9]), list(args[10])
        weight_entry = op["inputs"][2]
    else:
        x, w = op["inputs"][0]["shape"], op["inputs"][1]["shape"]
        grad = op["outputs"][0]["shape"]
        transposed, groups, mask = bool(args[6]), int(args[8]), [False, False]
        weight_entry = op["inputs"][1]
    kernel = math.prod(w[2:])
    batch = x[0]
    if transposed:  # w: [C_in, C_out/g, k...]; work per input pixel
        c_in, c_out = w[0], w[1] * groups
        pixels = math.prod(x[2:])
    else:  # w: [C_out, C_in/g, k...]; work per output pixel
        c_out, c_in = w[0], w[1] * groups
        pixels = math.prod(grad[2:])
    p = batch * pixels
    x_el, w_el, y_el = math.prod(x), math.prod(w), math.prod(grad)
    b_role = "weights" if _is_param(weight_entry) else "inputs"
    tid = weight_entry["params"][0] if len(weight_entry.get("params", ())) == 1 else None
    tid = tid if b_role == "weights" else None
    g = groups
    # (m, k, n) per group of the input-side and output-side GEMMs
    if transposed:
        fwd = (p, c_in // g, c_out // g * kernel)
        data = (p, c_out // g * kernel, c_in // g)
        wgt = (c_in // g, p, c_out // g * kernel)
    else:
        fwd = (p, c_in // g * kernel, c_out // g)
        data = (p, c_out // g, c_in // g * kernel)
        wgt = (c_in // g * kernel, p, c_out // g)
    if not backward:
        return [_fixed(name, "fwd", *fwd, g, ("inputs", b_role, "outputs"),
                       (x_el, w_el, y_el), tid)]
    out = []
    if mask[0]:
        out.append(_fixed(name, "bwd_data", *data, g, ("grad_outputs", b_role, "grad_inputs"),
                          (y_el, w_el, x_el), tid))
    if mask[1]:
        out.append(_fixed(name, "bwd_weight", *wgt, g,
                          ("inputs", "grad_outputs", "grad_weights"), (x_el, y_el, w_el)))
    return out


def _gemm(op, name: str, phase: str, weight_numels: set[int]) -> list[GemmLayer]:
    """mm(a, b), addmm(c, a, b), bmm(a, b), baddbmm(c, a, b)."""
    tensors = op["inputs"][-2:]
    a, b = tensors[0]["shape"], tensors[1]["shape"]
    if len(a) == 2:
        (m, k), (_, n), g = a, b, 1
    else:
        (g, m, k), (_, _, n) = a, b
    params = [t for t in tensors if _is_param(t)]
    o_el = math.prod(op["outputs"][0]["shape"])
    a_el, b_el = math.prod(a), math.prod(b)
    if phase == "fwd":
        roles = ("inputs", "weights" if params else "inputs", "outputs")
        if params and _is_param(tensors[0]):  # weight on the left: swap so B is the weight
            m, n, a_el, b_el = n, m, b_el, a_el
        tid = params[0]["params"][0] if len(params) == 1 and len(params[0]["params"]) == 1 \
            else None
        return [_fixed(name, "fwd", m, k, n, g, roles, (a_el, b_el, o_el), tid)]
    if params:
        if _is_param(tensors[0]):
            m, n, a_el, b_el = n, m, b_el, a_el
        return [_fixed(name, "bwd_data", m, k, n, g, ("grad_outputs", "weights", "grad_inputs"),
                       (a_el, b_el, o_el))]
    if o_el in weight_numels:
        return [_fixed(name, "bwd_weight", m, k, n, g, ("inputs", "grad_outputs",
                                                        "grad_weights"), (a_el, b_el, o_el))]
    return [_fixed(name, "bwd_data", m, k, n, g, ("grad_outputs", "inputs", "grad_inputs"),
                   (a_el, b_el, o_el))]


def _sdpa(op, name: str, phase: str) -> list[GemmLayer]:
    """Fused attention, q/k/v as [B, H, S, D]: forward QK^T and PV; backward recomputes
    the scores and forms dV, dP, dQ and dK (five GEMMs, as FlopCounterMode counts)."""
    offset = 1 if phase != "fwd" else 0  # backward: grad_out, q, k, v, ...
    q, k, v = (op["inputs"][offset + i]["shape"] for i in range(3))
    bh, s, d = q[0] * q[1], q[2], q[3]
    t, dv = k[2], v[3]
    q_el, k_el, v_el, p_el = bh * s * d, math.prod(k) * q[1] // k[1], \
        math.prod(v) * q[1] // v[1], bh * s * t
    o_el = bh * s * dv
    act = ("inputs", "inputs", "outputs")
    if phase == "fwd":
        return [_fixed(name, "fwd", s, d, t, bh, act, (q_el, k_el, p_el)),
                _fixed(name, "fwd", s, t, dv, bh, act, (p_el, v_el, o_el))]
    grad = ("grad_outputs", "inputs", "grad_inputs")
    return [_fixed(name, "bwd_data", s, d, t, bh, act, (q_el, k_el, p_el)),
            _fixed(name, "bwd_data", t, s, dv, bh, grad, (p_el, o_el, v_el)),
            _fixed(name, "bwd_data", s, dv, t, bh, grad, (o_el, v_el, p_el)),
            _fixed(name, "bwd_data", s, t, d, bh, grad, (p_el, k_el, q_el)),
            _fixed(name, "bwd_data", t, s, d, bh, grad, (p_el, q_el, k_el))]


def _lower_op(op, index: int, weight_numels: set[int]) -> list[GemmLayer] | None:
    kind, phase = packet(op["op"]), op["phase"]
    if phase == "optimizer":
        return None
    name = f"{op['module'] or '<model>'}#{index}"
    try:
        if kind in _CONV_OPS or kind == "aten.convolution_backward":
            return _conv(op, name, phase)
        if kind in _GEMM_OPS:
            return _gemm(op, name, phase, weight_numels)
        if kind in _SDPA_FWD or kind in _SDPA_BWD:
            return _sdpa(op, name, "fwd" if kind in _SDPA_FWD else "bwd")
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError):
        return None  # shapes or arguments this module does not know: uncosted
    return None


def step_work(header: TraceHeader) -> StepWork:
    """Classify every op of the header's workload graph (empty for traces before 1.2)."""
    work = StepWork()
    ops = header.workload.get("ops", []) if header.workload else []
    work.ops = len(ops)
    layer_names = {info.name for info in header.layers if info.kind in GEMM_KINDS}
    # sizes of the parameter-derived matmul operands: a backward matmul without a
    # parameter input that produces one of these is a weight gradient
    weight_numels: set[int] = set()
    for index, op in enumerate(ops):
        try:
            if op["phase"] == "fwd" and packet(op["op"]) in _GEMM_OPS:
                weight_numels.update(math.prod(entry["shape"]) for entry in op["inputs"]
                                     if _is_param(entry))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise _malformed(index, op, error) from None
    for index, op in enumerate(ops):
        try:
            _classify(work, op, index, layer_names, weight_numels, ops)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise _malformed(index, op, error) from None
    return work


def _malformed(index: int, op, error: Exception) -> TraceError:
    name = op.get("op", "?") if isinstance(op, dict) else "?"
    return TraceError(f"header.workload.ops[{index}] ({name}): malformed "
                      f"({type(error).__name__}: {error}); re-record the trace")


def _classify(work: StepWork, op: dict, index: int, layer_names: set[str],
              weight_numels: set[int], ops: list | None = None) -> None:
    kind = packet(op["op"])
    if op["phase"] == "fwd":
        work.activation_bytes[op["module"] or "<model>"] += sum(
            math.prod(out["shape"]) * DTYPE_BYTES.get(out["dtype"], 4) for out in op["outputs"])
    if kind in MATMUL_OPS and op["module"] in layer_names and op["phase"] != "optimizer":
        if op["phase"] == "fwd":
            work.covered[op["module"]] += 1
        elif _computes_input_grad(op):
            work.input_grads.add(op["module"])
        return
    if kind in VIEW_OPS:
        work.views += 1
        return
    lowered = _lower_op(op, index, weight_numels)
    if lowered is None and kind in VECTOR_OPS and op["phase"] in VECTOR_PHASE \
            and not op.get("unreadable"):
        work.vector.append(_vector_op(op, kind, ops or []))
        return
    if lowered is None:
        work.uncosted[kind] += 1
        work.uncosted_by_module[op["module"] or "<model>"] += 1
        return
    module = op["module"] or "<model>"
    if len(lowered) > 1:
        lowered = [replace(layer, name=f"{layer.name}.{j}",
                           fixed=replace(layer.fixed, layer=f"{layer.name}.{j}"))
                   for j, layer in enumerate(lowered)]
    work.gemms.extend((module, layer) for layer in lowered)


def _vector_op(op: dict, kind: str, ops: list) -> VectorOp:
    per_element, basis = VECTOR_OPS[kind]
    tensors = [entry for entry in op["inputs"] if "shape" in entry]
    src = tensors[0].get("src", -1) if tensors else -1
    after_gemm = isinstance(src, int) and 0 <= src < len(ops) \
        and packet(ops[src]["op"]) in MATMUL_OPS
    elements = max((math.prod(entry["shape"]) for entry in
                    (tensors[:1] if basis == "in" else op["outputs"])), default=0)

    def count(entries) -> int:
        return sum(math.prod(entry["shape"]) for entry in entries)

    return VectorOp(op["module"] or "<model>", VECTOR_PHASE[op["phase"]],
                    per_element * elements, count(tensors), count(op["outputs"]),
                    fusable=after_gemm and basis == "out" and per_element in (1, 2))


def _computes_input_grad(op) -> bool:
    """A backward op of a conv/linear layer that forms its input gradient."""
    if packet(op["op"]) == "aten.convolution_backward":
        return bool(op["args"][10][0])
    return any(_is_param(entry) for entry in op["inputs"])


def layer_passes(work: StepWork, layer: str) -> int:
    """How many times a header layer ran per step (1 when the graph does not say)."""
    return max(1, work.covered.get(layer, 1))


def describe_uncosted(work: StepWork, limit: int = 8) -> str:
    """``"12 ops: aten.add (6), aten.relu (4), ..."`` or ``""``."""
    if not work.uncosted:
        return ""
    items = work.uncosted.most_common()
    shown = ", ".join(f"{name} ({count})" for name, count in items[:limit])
    more = f", and {len(items) - limit} more kinds" if len(items) > limit else ""
    return f"{work.uncosted_ops} ops: {shown}{more}"


def workload_summary(header: TraceHeader, work: StepWork | None = None) -> dict:
    """What a trace's workload graph holds and what of it the replay does not cost (by op
    name); ``ops`` 0 for traces before format 1.2, which carry no graph."""
    work = step_work(header) if work is None else work
    workload = header.workload or {}
    return {"ops": work.ops, "captured_step": workload.get("captured_step"),
            "micro_batches": int(workload.get("micro_batches", 1) or 1),
            "graph_gemms": len(work.gemms), "graph_macs_per_step": work.macs,
            "views": work.views, "vector_ops": len(work.vector),
            "uncosted_ops": work.uncosted_ops,
            "uncosted_matmul_ops": work.uncosted_matmul_ops,
            "uncosted": dict(work.uncosted.most_common())}


def workload_line(summary: dict) -> str:
    """One line for ``trace info`` and ``simulate``."""
    if not summary["ops"]:
        return "no workload graph (trace before format 1.2): conv2d/linear layers only"
    batches = summary["micro_batches"]
    text = (f"{summary['ops']:,} ops of step {summary['captured_step']} ({batches} "
            f"micro-batch{'es' if batches != 1 else ''})")
    vector = summary.get("vector_ops", 0)
    if vector:
        text += f"; {vector:,} for the vector unit"
    if not summary["uncosted_ops"]:
        return text + "; every op costed"
    names = ", ".join(f"{name} ({count})" for name, count in
                      list(summary["uncosted"].items())[:6])
    more = ", ..." if len(summary["uncosted"]) > 6 else ""
    matmul = summary["uncosted_matmul_ops"]
    return (text + f"; not costed: {summary['uncosted_ops']:,} ops ({matmul} matmul-like, "
            f"their MACs missing): {names}{more}")


def require_layer_work_only(header: TraceHeader, what: str) -> None:
    """Refuse, in one line, a consumer that places work by conv2d/linear layer only
    (DRAM request placement, timelines) when the graph holds lowered GEMMs."""
    work = step_work(header)
    if work.gemms:
        modules = sorted({module for module, _ in work.gemms})
        raise ConfigError(f"{header.net}: {what} does not place the workload graph's "
                          f"{len(work.gemms)} lowered GEMMs yet (under {', '.join(modules[:4])}"
                          f"{', ...' if len(modules) > 4 else ''}); use plain `simulate` "
                          "(the bandwidth DRAM model)")


def step_layers(header: TraceHeader, work: StepWork) -> list[GemmLayer]:
    """The conv2d/linear layers of ``header.layers``; with a graph, a layer has
    ``bwd_data`` when the step formed its input gradient (not by its position)."""
    layers = gemm_layers(header, required=not work.gemms)
    if work.ops:
        layers = [replace(layer, first=layer.name not in work.input_grads) for layer in layers]
    return layers


def layer_table(header: TraceHeader, stored_by_tensor: dict[int, float]) -> list[dict]:
    """One row per layer / module path (``trace info --layers``): parameters, stored
    weights (median per step), matmul MACs per step by phase, forward activation bytes,
    optimizer state values, ops not costed."""
    work = step_work(header)
    rows: dict[str, dict] = {}

    def row(name: str) -> dict:
        return rows.setdefault(name, {
            "layer": name, "params": 0, "stored": 0.0,
            "macs": {phase: 0 for phase in PHASES if phase != "update"},
            "activation_bytes": 0, "optimizer_state": 0, "uncosted_ops": 0})

    for info in header.layers:
        row(info.name)
    for tensor in header.tensors:
        entry = row(tensor.layer)
        entry["params"] += tensor.numel
        entry["stored"] += float(stored_by_tensor.get(tensor.tensor_id, tensor.numel))
        entry["optimizer_state"] += tensor.numel * header.optimizer_state_per_weight
    act = DTYPE_BYTES.get(header.dtypes.get("activations", "float32"), 4)
    for layer in step_layers(header, work):
        for phase in row(layer.name)["macs"]:
            gemm = lower(layer, phase)
            if gemm is not None:
                rows[layer.name]["macs"][phase] += gemm.macs * layer_passes(work, layer.name)
        if not work.ops:
            rows[layer.name]["activation_bytes"] += layer.batch * layer.out_elements * act
    for module, layer in work.gemms:
        row(module)["macs"][layer.fixed.phase] += layer.fixed.macs
    for module, nbytes in work.activation_bytes.items():
        row(module)["activation_bytes"] += nbytes
    for module, count in work.uncosted_by_module.items():
        row(module)["uncosted_ops"] += count
    return list(rows.values())
