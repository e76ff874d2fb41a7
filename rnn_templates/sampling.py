"""Compiled stateful sampling from a recurrent token model, on every Keras backend.

A token language model (embedding -> recurrent layers -> dense head, as
:func:`~rnn_templates.topologies.build_many_to_many` builds it) is trained on
whole windows, with the fast fused recurrent layers. To generate, this module
runs the same weights one step at a time through each layer's *cell*,
carrying the states: a step costs one recurrent step, never a re-read of the
history. The prompt is read by the same loop (teacher-forced), then each
sampled token is fed back.

The whole loop is one compiled function: ``tf.function`` on TensorFlow (XLA
by default; the loop also exports into a SavedModel), ``jax.jit`` on JAX (the weights passed in,
never baked in). PyTorch has no compiled loop of its own, so there each step
(read a prompt token, or sample one and feed it back) is one graph compiled by
``torch.compile`` and a Python loop calls it, under ``no_grad``, with no host
copy per step (the pattern of PyTorch's own compiled decoders). Randomness
comes in as one uniform number per (step, sequence), drawn before the loop
from a seeded NumPy generator (or ``tf.random.stateless_uniform`` in an
export), so a seed gives the same music on every backend and the loop itself
stays pure. A token is drawn by
inverting the cumulative distribution after temperature, top-k and top-p;
temperature 0 takes the most likely token.

Example:
    >>> import numpy as np
    >>> from rnn_templates.topologies import build_many_to_many
    >>> model = build_many_to_many(6, vocab_size=6, rnn={"cell": "gru", "units": 8},
    ...                            output_activation="softmax", mask_zero=False)
    >>> sampler = RecurrentSampler.from_model(model)
    >>> sampler.sample(np.array([[1, 2], [3, 4]]), 5, seed=0).shape
    (2, 5)
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

__all__ = ["RecurrentSampler", "check_sampling", "choose_tokens"]


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise ValueError naming the first sampling setting out of range."""
    if not temperature >= 0 or temperature == float("inf"):  # NaN fails too
        raise ValueError(f"`temperature` must be >= 0 and finite; received {temperature}")
    if top_k is not None and (not isinstance(top_k, int | np.integer) or top_k < 1):
        raise ValueError(f"`top_k` must be an integer >= 1 (or 0/None: all); received {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:  # NaN fails too
        raise ValueError(f"`top_p` must be in (0, 1]; received {top_p}")


def choose_tokens(logits: Any, uniforms: Any, temperature: Any, top_k: Any, top_p: Any,
                  filtering: bool | None = None) -> Any:
    """One token per row of ``logits`` (batch, vocab), in ``keras.ops``.

    Args:
        logits: Unnormalized log-probabilities (batch, vocab).
        uniforms: One uniform number in [0, 1) per row (batch,).
        temperature: Scalar; 0 picks the most likely token.
        top_k: Scalar; keep the k most likely tokens (0 keeps all).
        top_p: Scalar; keep the smallest set whose probability reaches p (1 keeps all).
        filtering: Whether ``top_k`` or ``top_p`` removes any token, when the
            caller knows it (see :func:`filters_tokens`): a loop decides it
            once, outside its steps. ``None``: decided here, by a branch.

    Returns:
        Int32 tokens (batch,).
    """
    ops = keras.ops
    logits = ops.cast(logits, "float32")
    vocab = _width(logits)
    greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
    temperature = ops.cast(temperature, "float32")
    scaled = logits / ops.maximum(temperature, 1e-6)
    k = ops.cast(top_k, "int32")
    p = ops.cast(top_p, "float32")
    # Without top-k or top-p the sort and the masks are skipped (the default settings).
    if filtering is not None:
        masked = _top_k_top_p(scaled, k, p) if filtering else scaled
    elif keras.backend.backend() == "torch":  # a branch torch.compile keeps in its graph
        import torch

        masked = torch.cond(filters_tokens(k, p, vocab), lambda x: _top_k_top_p(x, k, p),
                            torch.clone, (scaled,))
    else:
        masked = ops.cond(filters_tokens(k, p, vocab), lambda: _top_k_top_p(scaled, k, p),
                          lambda: scaled)
    cumulative = ops.cumsum(ops.softmax(masked, axis=-1), axis=-1)
    # Counting below the last entry caps the draw at the last token (a uniform above
    # the total, which rounding leaves a little under 1, takes that token).
    drawn = ops.sum(ops.cast(cumulative[:, :-1] < ops.expand_dims(uniforms, -1), "int32"),
                    axis=-1)
    # A draw can only land on a kept token up to float rounding at the edges.
    landed = ops.expand_dims(drawn, -1) == ops.arange(vocab, dtype="int32")
    drawn = ops.where(ops.any(ops.logical_and(landed, masked > -1e29), axis=-1), drawn, greedy)
    return ops.where(temperature <= 0, greedy, drawn)


def filters_tokens(top_k: Any, top_p: Any, vocab: Any) -> Any:
    """A boolean tensor: whether ``top_k`` or ``top_p`` removes any of ``vocab`` tokens."""
    ops = keras.ops
    k = ops.cast(top_k, "int32")
    return ops.logical_or(ops.logical_and(k > 0, k < vocab), ops.cast(top_p, "float32") < 1)


def _width(logits: Any) -> Any:
    """The vocabulary size: a plain int where the shape knows it (always, in a model's
    head), so a dynamically shaped torch.compile graph does not carry it symbolically."""
    width = logits.shape[-1]
    return int(width) if width is not None else keras.ops.shape(logits)[-1]


def _top_k_top_p(scaled: Any, k: Any, top_p: Any) -> Any:
    """``scaled`` logits with everything outside the top-k and the top-p set at -1e30
    (``k`` int32 and ``top_p`` float32 tensors)."""
    ops = keras.ops
    vocab = _width(scaled)
    ordered = ops.flip(ops.sort(scaled, axis=-1), axis=-1)  # descending
    # top-k: everything below the k-th largest value goes.
    k = ops.where(ops.logical_or(k <= 0, k > vocab), vocab, k)
    kth = ops.take(ordered, ops.reshape(k - 1, (1,)), axis=-1)
    # top-p over what top-k kept: keep an entry while the mass before it is below p
    # (the first always stays). Ties at the k-th value stay, as in the NumPy sampler.
    probabilities = ops.softmax(ops.where(ordered >= kth, ordered, -1e30), axis=-1)
    before = ops.cumsum(probabilities, axis=-1) - probabilities
    kept = ops.where(before < top_p, ordered, ordered[:, :1])
    floor = ops.maximum(kth, ops.amin(kept, axis=-1, keepdims=True))
    return ops.where(scaled >= floor, scaled, -1e30)


class RecurrentSampler:
    """Generate from a trained token model one carried-state step at a time.

    Args:
        embedding: The ``Embedding`` layer (ids -> vectors).
        recurrent: The recurrent layers in order (``LSTM``, ``GRU`` or
            ``SimpleRNN``; not bidirectional).
        head: The ``Dense`` output layer (softmax or linear: logits either way).
        conditioners: For a conditioned generator, per recurrent layer the
            ``Dense`` layers that turn a condition vector into its initial
            states (``h``, and ``c`` for LSTM); ``None``: states start at zero.

    Attributes:
        jit_compile: On TensorFlow, compile the loop with XLA (default ``True``),
            as ``jax.jit`` does on JAX: each new batch size, prompt length or
            step count compiles once (a few seconds), after which a step costs
            a fraction of the graph executor's (on one CPU core, 500 steps of
            one sequence through an LSTM(128): 9 ms against 120 ms). On
            PyTorch, compile each step with ``torch.compile``, shapes left
            dynamic: one sequence compiles once and batches of any size once
            more (about 10 s each on a CPU, where it needs a C++ compiler),
            whatever the prompt length or step count; then 500 steps of a
            two-layer LSTM(128) take 0.09 s against 0.87 s eagerly on one
            core. Set it to ``False`` for one-off calls of ever-changing
            shapes. Exports trace :meth:`loop` themselves and are not affected.
        unroll: On JAX, the steps each iteration of the compiled loop runs
            (default 8): on a GPU every iteration waits for the loop's
            condition to reach the host, which costs more than a small
            model's step.
    """

    jit_compile: bool = True
    unroll: int = 8

    def __init__(self, embedding: keras.layers.Layer, recurrent: list[keras.layers.Layer],
                 head: keras.layers.Layer,
                 conditioners: list[list[keras.layers.Layer]] | None = None):
        for layer in recurrent:
            if not hasattr(layer, "cell"):
                raise ValueError(
                    f"`recurrent` layers must be LSTM, GRU or SimpleRNN layers; received "
                    f"{type(layer).__name__} {layer.name!r} (a bidirectional layer reads the "
                    "future and cannot generate)")
        self.embedding = embedding
        self.recurrent = list(recurrent)
        self.head = head
        self.conditioners = conditioners
        self._compiled: dict[str, Any] = {}

    def _layers(self) -> list[keras.layers.Layer]:
        conditioners = [layer for per_layer in self.conditioners or [] for layer in per_layer]
        return [self.embedding, *self.recurrent, self.head, *conditioners]

    def _variables(self) -> list[Any]:
        return [v for layer in self._layers() for v in layer.variables]

    @classmethod
    def from_model(cls, model: keras.Model, *, embedding: str = "embedding",
                   recurrent_prefix: str = "rnn", head: str = "output_head") -> RecurrentSampler:
        """The sampler of a model built by ``build_many_to_many`` (layers found by name)."""
        layers = [layer for layer in model.layers
                  if layer.name.startswith(f"{recurrent_prefix}_")
                  and layer.name[len(recurrent_prefix) + 1:].isdigit()]
        layers.sort(key=lambda layer: int(layer.name[len(recurrent_prefix) + 1:]))
        if not layers:
            raise ValueError(f"no recurrent layers named {recurrent_prefix}_1... in model "
                             f"{model.name!r}")
        names = {layer.name for layer in model.layers}
        if embedding not in names or head not in names:
            raise ValueError(
                f"model {model.name!r} has no {embedding!r} or no {head!r} layer: sampling "
                "needs a token language model (build_many_to_many with vocab_size)")
        if not getattr(layers[-1], "return_sequences", True):
            raise ValueError(
                f"model {model.name!r} answers once per sequence (its last recurrent layer "
                "does not return sequences): sampling needs a language model that predicts "
                "the next token at every step (build_many_to_many)")
        # build_conditioned_generator: condition_<i>_h (and _c) start layer i's state.
        conditioners = [[model.get_layer(f"condition_{index}_{state}")
                         for state in ("h", "c") if f"condition_{index}_{state}" in names]
                        for index in range(1, len(layers) + 1)]
        sampler = cls(model.get_layer(embedding), layers, model.get_layer(head),
                      conditioners if any(conditioners) else None)
        words = getattr(sampler.embedding, "input_dim", sampler.vocab_size)
        if words != sampler.vocab_size:
            raise ValueError(
                f"model {model.name!r} predicts {sampler.vocab_size} classes from "
                f"{words} token ids: sampling feeds each prediction back as the next token, "
                "so the head must have one output per token id")
        return sampler

    @property
    def vocab_size(self) -> int:
        return int(self.head.units)

    # --- one step ------------------------------------------------------------------

    def initial_states(self, batch: Any, conditions: Any = None) -> list[list[Any]]:
        """Every layer's first state: ``[[h, c], ...]`` for LSTM, ``[[h], ...]`` otherwise.

        Zero, or for a conditioned generator its projections of ``conditions``
        (batch, condition_dim).
        """
        if self.conditioners is not None:
            if conditions is None:
                raise ValueError("this model is a conditioned generator: pass `conditions`, "
                                 "one vector per sequence")
            return [[layer(conditions) for layer in per_layer] for per_layer in self.conditioners]
        if conditions is not None:
            raise ValueError("`conditions` given, but the model has no condition_<i>_h layers "
                             "(build_conditioned_generator)")
        states = []
        for layer in self.recurrent:
            sizes = layer.cell.state_size
            sizes = list(sizes) if isinstance(sizes, list | tuple) else [sizes]
            states.append([keras.ops.zeros((batch, size)) for size in sizes])
        return states

    def embed(self, tokens: Any) -> Any:
        """The embedding of ``tokens`` (a lookup: no padding mask, a step is never padding)."""
        return keras.ops.take(self.embedding.embeddings, keras.ops.cast(tokens, "int32"), axis=0)

    def logits(self, hidden: Any) -> Any:
        """The head's logits (before a softmax, if it has one)."""
        if getattr(self.head, "activation", None) is keras.activations.softmax:
            out = keras.ops.matmul(hidden, self.head.kernel)
            return out + self.head.bias if self.head.use_bias else out
        return self.head(hidden)

    def step(self, tokens: Any, states: list[list[Any]]) -> tuple[Any, list[list[Any]]]:
        """Feed one token per sequence; returns ``(logits, new_states)``."""
        x = self.embed(tokens)
        new_states = []
        for layer, state in zip(self.recurrent, states, strict=True):
            x, state = layer.cell(x, state, training=False)
            new_states.append(list(state) if isinstance(state, list | tuple) else [state])
        return self.logits(x), new_states

    # --- the loop ------------------------------------------------------------------

    def loop(self, prompts: Any, uniforms: Any, temperature: Any = 1.0, top_k: Any = 0,
             top_p: Any = 1.0, starts: Any = None, conditions: Any = None) -> Any:
        """Read ``prompts`` (batch, length >= 1), then sample ``len(uniforms)`` tokens.

        Pure ``keras.ops``: trace it inside ``tf.function`` (an export does),
        ``jax.jit``, or run it eagerly. ``uniforms`` is (steps, batch).
        Prompts of different lengths are left-padded: ``starts`` (batch,)
        gives each one's first real position, and the state stays at its
        start (zero, or from ``conditions``) until then, exactly as if that
        prompt had been read alone. A model
        whose embedding masks id 0 (``mask_zero=True``) never samples it: to
        the model it is padding, not a token.

        Returns:
            Int32 tokens (batch, steps).
        """
        ops = keras.ops
        prompts = ops.cast(prompts, "int32")
        batch = ops.shape(prompts)[0]
        steps = ops.shape(uniforms)[0]
        if starts is None:
            starts = ops.zeros((batch,), "int32")
        starts = ops.expand_dims(ops.cast(starts, "int32"), -1)

        def read(t, carry):
            logits, states = carry
            new_logits, new_states = self.step(ops.take(prompts, t, axis=1), states)
            started = t >= starts  # (batch, 1)
            new_states = [[ops.where(started, new, old) for new, old in zip(n, o, strict=True)]
                          for n, o in zip(new_states, states, strict=True)]
            return ops.where(started, new_logits, logits), new_states

        empty = ops.zeros((batch, self.vocab_size))
        logits, states = self.fori_loop(0, ops.shape(prompts)[1], read,
                                        (empty, self.initial_states(batch, conditions)))

        padding = getattr(self.embedding, "mask_zero", False)
        if padding:  # the model masks id 0 as padding: never a token to sample
            is_padding = ops.expand_dims(ops.arange(self.vocab_size) == 0, 0)

        def writes(filtering):
            def write(t, carry):
                logits, states, out = carry
                if padding:  # below choose_tokens' -1e29 floor at any temperature up to 100
                    logits = ops.where(is_padding, -1e38, logits)
                tokens = choose_tokens(logits, ops.take(uniforms, t, axis=0), temperature,
                                       top_k, top_p, filtering)
                out = ops.slice_update(out, (0, t), ops.expand_dims(tokens, 1))
                logits, states = self.step(tokens, states)
                return logits, states, out

            out = ops.zeros((batch, steps), "int32")
            return self.fori_loop(0, steps, write, (logits, states, out))[2]

        return self.filtered_loop(writes, top_k, top_p)

    def filtered_loop(self, writes: Any, top_k: Any, top_p: Any) -> Any:
        """``writes(filtering)``, the sampling loop, with top-k/top-p decided once.

        In a compiled loop (TensorFlow, JAX) the choice is one branch around
        two versions of the loop rather than one in every step: on a GPU a
        branch waits for its predicate to reach the host, at every step. On
        PyTorch, where a Python loop calls a compiled step, the step keeps it.
        """
        if keras.backend.backend() == "torch":
            return writes(None)
        return keras.ops.cond(filters_tokens(top_k, top_p, self.vocab_size),
                              lambda: writes(True), lambda: writes(False))

    def fori_loop(self, lower: int, upper: Any, body: Any, carry: Any) -> Any:
        """``keras.ops.fori_loop``; on JAX, with :attr:`unroll` steps per iteration
        where the step count is known when the loop compiles (it is, under
        ``jax.jit``). On PyTorch (with :attr:`jit_compile`), a loop over
        ``body`` compiled by ``torch.compile``: one compiled call per step. The step
        index goes in as a tensor and the shapes are dynamic, so one graph serves
        every step, prompt length and step count."""
        backend = keras.backend.backend()
        if backend == "jax" and isinstance(lower, int) and isinstance(upper, int) \
                and self.unroll > 1:
            import jax

            return jax.lax.fori_loop(lower, upper, body, carry,
                                     unroll=max(1, min(self.unroll, upper - lower)))
        if backend != "torch" or not self.jit_compile:
            return keras.ops.fori_loop(lower, upper, body, carry)
        import torch

        step = torch.compile(body, dynamic=True)
        first = carry
        try:
            for t in torch.arange(lower, int(upper), dtype=torch.int32):
                carry = step(t, carry)
        except torch._dynamo.exc.BackendCompilerFailed as error:  # no C++ compiler, say
            warnings.warn(f"torch.compile failed ({str(error).splitlines()[0]}); this "
                          "sampler now generates eagerly (slower)", stacklevel=2)
            self.jit_compile = False
            return keras.ops.fori_loop(lower, upper, body, first)
        return carry

    def compiled(self, loop: Any) -> Any:
        """``loop`` (this sampler's loop method) compiled for the backend.

        On JAX the layers' weights go in as arguments (a ``StatelessScope``),
        so a jitted loop never keeps weights from before more training.
        """
        backend = keras.backend.backend()
        key = (backend, loop.__name__)
        if key not in self._compiled:
            if backend == "tensorflow":
                import tensorflow as tf

                function = tf.function(loop, reduce_retracing=True,
                                       jit_compile=self.jit_compile)
            elif backend == "jax":
                import jax

                variables = self._variables()

                def pure(values, *args):
                    with keras.StatelessScope(state_mapping=list(zip(variables, values,
                                                                      strict=True))):
                        return loop(*args)

                jitted = jax.jit(pure)

                def function(*args):
                    return jitted([v.value for v in variables], *args)
            else:
                import torch

                def function(*args):
                    with torch.no_grad():
                        return loop(*args)
            self._compiled[key] = function
        return self._compiled[key]

    def sample(self, prompts: Any, steps: int, *, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None,
               seed: int | None = None, starts: Any = None,
               conditions: Any = None) -> np.ndarray:
        """Continue each prompt by ``steps`` tokens; returns an int array (batch, steps).

        Args:
            prompts: Int array (batch, length >= 1) of token ids.
            steps: Tokens to generate.
            temperature: Below 1 sharpens, above 1 flattens; 0 is greedy.
            top_k: Keep the k most likely tokens.
            top_p: Keep the smallest set whose probability reaches p (nucleus).
            seed: Seed of the draws: the same seed gives the same tokens on any
                backend, and row ``i`` the same tokens in any batch.
            starts: For left-padded prompts of different lengths, each one's
                first real position (batch,); default: all start at 0.
            conditions: For a conditioned generator, one vector per prompt
                (batch, condition_dim); its recurrent state starts from them.
        """
        prompts = np.asarray(prompts)
        if prompts.ndim != 2 or prompts.shape[1] < 1 or prompts.shape[0] < 1:
            raise ValueError("`prompts` must be ids of shape (batch >= 1, length >= 1); "
                             f"received shape {prompts.shape}")
        if not isinstance(steps, int | np.integer) or steps < 0:
            raise ValueError(f"`steps` must be an integer >= 0; received {steps!r}")
        if not np.issubdtype(prompts.dtype, np.integer):
            raise ValueError(f"`prompts` must be integer token ids; received dtype {prompts.dtype}")
        vocabulary = self.vocab_size
        if prompts.min() < 0 or prompts.max() >= vocabulary:
            raise ValueError(f"`prompts` must be token ids in [0, {vocabulary}) (the model's "
                             f"vocabulary); received ids from {prompts.min()} to {prompts.max()}")
        if starts is not None:
            starts = np.asarray(starts)
            if starts.shape != (len(prompts),) or not np.issubdtype(starts.dtype, np.integer) \
                    or starts.min() < 0 or starts.max() >= prompts.shape[1]:
                raise ValueError(
                    f"`starts` must be one integer per prompt ({len(prompts)}), each in [0, "
                    f"{prompts.shape[1]}) (the prompts' length); received {starts.tolist()!r}")
        if (conditions is None) != (self.conditioners is None):
            self.initial_states(1, conditions)  # raises, saying which is missing
        if conditions is not None:
            conditions = np.asarray(conditions, dtype=np.float32)
            width = int(self.conditioners[0][0].kernel.shape[0])
            if conditions.shape != (len(prompts), width) or not np.isfinite(conditions).all():
                raise ValueError(f"`conditions` must be finite, one vector of {width} features "
                                 f"per prompt: shape ({len(prompts)}, {width}); received shape "
                                 f"{conditions.shape}")
        top_k = top_k or None  # 0 means all, as in choose_tokens
        check_sampling(temperature, top_k, top_p)
        if steps == 0:
            return np.zeros((len(prompts), 0), dtype=np.int32)
        # One stream per row: a piece depends on its seed and its row, not on the batch.
        entropy = np.random.SeedSequence(seed).entropy
        uniforms = np.stack([np.random.default_rng([entropy, row]).random(steps, np.float32)
                             for row in range(len(prompts))], axis=1)
        arguments = [keras.ops.convert_to_tensor(prompts.astype(np.int32)),
                     keras.ops.convert_to_tensor(uniforms),
                     keras.ops.convert_to_tensor(np.float32(temperature)),
                     keras.ops.convert_to_tensor(np.int32(top_k or 0)),
                     keras.ops.convert_to_tensor(np.float32(top_p or 1.0)),
                     keras.ops.convert_to_tensor(
                         np.zeros(len(prompts), np.int32) if starts is None
                         else np.asarray(starts, np.int32))]
        if conditions is not None:
            arguments.append(keras.ops.convert_to_tensor(conditions))
        tokens = self.compiled(self.loop)(*arguments)
        return keras.ops.convert_to_numpy(tokens).astype(np.int32)

    def log_probabilities(self, prompts: Any, tokens: Any, conditions: Any = None) -> np.ndarray:
        """Log-probability of each of ``tokens`` (batch, steps) after ``prompts``."""
        ops = keras.ops
        prompts = np.asarray(prompts, dtype=np.int32)
        tokens = np.asarray(tokens, dtype=np.int32)
        sequence = np.concatenate([prompts, tokens], axis=1)
        states = self.initial_states(len(prompts), None if conditions is None else
                                     ops.convert_to_tensor(np.asarray(conditions, np.float32)))
        scores = []
        for t in range(sequence.shape[1] - 1):
            logits, states = self.step(ops.convert_to_tensor(sequence[:, t]), states)
            if t >= prompts.shape[1] - 1:
                log_p = ops.log_softmax(logits, axis=-1)
                scores.append(ops.convert_to_numpy(ops.take_along_axis(
                    log_p, ops.convert_to_tensor(sequence[:, t + 1:t + 2]), axis=-1))[:, 0])
        return np.stack(scores, axis=1) if scores else np.zeros((len(prompts), 0))
