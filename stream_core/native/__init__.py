"""The pack's own StreamDiT: model, window attention, text encoder, frame autoencoder,
checkpoint files, its conditioning source and session factory. Imports the engine only."""
