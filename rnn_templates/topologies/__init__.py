"""One builder per recurrent topology; each returns a Keras functional model."""

from rnn_templates.topologies.many_to_many import build_many_to_many
from rnn_templates.topologies.many_to_one import build_many_to_one
from rnn_templates.topologies.one_to_many import build_conditioned_generator, build_one_to_many
from rnn_templates.topologies.one_to_one import build_one_to_one
from rnn_templates.topologies.seq2seq import build_seq2seq, seq2seq_inference_models

__all__ = [
    "build_conditioned_generator",
    "build_many_to_many",
    "build_many_to_one",
    "build_one_to_many",
    "build_one_to_one",
    "build_seq2seq",
    "seq2seq_inference_models",
]
