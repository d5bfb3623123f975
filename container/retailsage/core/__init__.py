"""Cross-cutting building blocks: errors, /opt/ml paths, typed hyperparameter parsing."""
