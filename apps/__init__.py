"""Applications built on rnn_templates; each sub-package is one app."""
