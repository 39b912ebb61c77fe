"""The streaming engine: partition, time grid, flow formulas, guidance, integrator, stream,
decoded stream, prompt timeline and the live-session contract. Imports neither ``native``
nor ``lab``, and nothing from ComfyUI."""
