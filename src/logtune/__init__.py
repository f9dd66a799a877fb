"""logtune: an assistant's own logs and feedback -> a better fine-tuned model, as a DVC pipeline.

The package holds all logic; `stages/*.py` are thin entry points over it (see README.md).
"""

__version__ = "0.1.0"
