"""The streaming engine: the partition rule (``partition``), the time grid (``time_grid``), the
flow formulas (``flow``), guidance (``guidance``), the sampler (``integrator``), a step's
rollback (``rollback``), a causal model's context (``rolling_cache``), the moving buffer
(``stream``), its inputs (``frame_input``, ``live_input``, ``similarity_filter``), its decoding
(``decoded_stream``, ``decode_ahead``, ``backlog``), the prompt timeline (``timeline``) and the
live-session contract (``session``).
Imports neither ``native`` nor ``lab``, and nothing from ComfyUI."""
