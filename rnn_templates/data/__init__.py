"""tf.data helpers shared by the apps: length bucketing and padding."""

from rnn_templates.data.bucketing import bucket_by_length, length_boundaries

__all__ = ["bucket_by_length", "length_boundaries"]
