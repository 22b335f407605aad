"""lorasearch: hyperparameter search for QLoRA fine-tuning, watched and steered from a terminal.

The engine (config, data, training, search) never imports the UI libraries; the console and
the terminal UI are two front ends of it.
"""

__version__ = "0.1.0"
