"""Wan in the pack: a stock Wan 2.1 / 2.2 MODEL as a stream (source, session, streaming VAE, previews) and its nodes."""
