"""Where the native model is made and judged: the synthetic world, image analysis,
training, autoencoder training, distillation and the evaluator (command-line tools)."""
