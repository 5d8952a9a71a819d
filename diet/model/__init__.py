"""The encoder and its fine-tuning: config, encoders, batching, the training loop, steps."""
