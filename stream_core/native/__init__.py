"""The pack's own StreamDiT: the model (``model``), its shifted window attention
(``window_attention``), text encoder (``text``), frame autoencoder (``autoencoder``),
checkpoint files (``checkpoint``), latents to images (``images``), its conditioning source
(``conditioning``) and session factory (``session``). Imports the engine only."""
