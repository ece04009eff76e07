"""The studies (run, memory, backpressure, ceiling, verify, ab, ...): plans measured through one pipeline."""
