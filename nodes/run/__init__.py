"""One queued run of a stream node: pacing, the run's output and the stream's recording."""
